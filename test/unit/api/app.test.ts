// Every route's 401, 403, 400 and 404 through Fastify's inject, without a stack: authentication,
// roles and parameter validation all answer before a handler would touch the store (the store here
// is a stand-in that fails the test if it is asked anything).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../../src/api/index.js';
import type { ClickHouseClient } from '../../../src/audit/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { NO_ALERTS } from '../../fixtures/no-alerts.js';
import { createLogger } from '../../../src/logger.js';

const KEYS = { auditor: 'auditor-key-0123456789', sre: 'sre-key-0123456789abc', admin: 'admin-key-0123456789' };
const untouchable = new Proxy(
  {},
  {
    get: (_t, property) => {
      throw new Error(`the store was asked ${String(property)}`);
    },
  },
) as ClickHouseClient;
let app: FastifyInstance;

/** The API over `clickhouse`, with nothing else behind it. */
function apiOn(clickhouse: ClickHouseClient, config: ReturnType<typeof loadConfig>['api']): Promise<FastifyInstance> {
  return buildApi(
    {
      clickhouse,
      config,
      agents: () => [],
      clockFindings: () => [],
      acceptBaseline: async () => 'unknown',
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
      readiness: async () => ({ checks: { kafka: true }, reasons: [] }),
      alerts: NO_ALERTS,
    },
    createLogger('fatal'),
  );
}

before(async () => {
  const config = loadConfig({
    API_KEYS: `audit-team:auditor:${KEYS.auditor},oncall:sre:${KEYS.sre},root:admin:${KEYS.admin}`,
  });
  app = await apiOn(untouchable, config.api);
});

after(async () => {
  await app?.close();
});

const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, key?: string) => {
  const response = await app.inject({
    method,
    url,
    headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
  });
  return { status: response.statusCode, code: (response.json() as { error?: { code?: string } }).error?.code };
};

const ROUTES: Array<{ method: 'GET' | 'POST' | 'DELETE'; url: string; role: 'auditor' | 'sre'; bad: string }> = [
  { method: 'GET', url: '/v1/audit/events', role: 'auditor', bad: '/v1/audit/events?limit=0' },
  { method: 'GET', url: '/v1/audit/export', role: 'auditor', bad: '/v1/audit/export?format=xml' },
  { method: 'GET', url: '/v1/audit/verify?topic=t&partition=0', role: 'auditor', bad: '/v1/audit/verify?topic=t' },
  { method: 'GET', url: '/v1/audit/integrity', role: 'auditor', bad: '/v1/audit/integrity?limit=0' },
  {
    method: 'GET',
    url: '/v1/workflows/wf-1/timeline',
    role: 'auditor',
    bad: `/v1/workflows/${'w'.repeat(513)}/timeline`,
  },
  { method: 'GET', url: '/v1/anomalies', role: 'sre', bad: '/v1/anomalies?state=MAYBE' },
  { method: 'GET', url: '/v1/agents', role: 'sre', bad: '/v1/agents?unknown=1' },
  { method: 'POST', url: '/v1/agents/x/accept', role: 'sre', bad: `/v1/agents/${'a'.repeat(513)}/accept` },
  { method: 'GET', url: '/v1/findings/clock-skew', role: 'sre', bad: '/v1/findings/clock-skew?unknown=1' },
  { method: 'GET', url: '/v1/alerts/stream', role: 'sre', bad: '/v1/alerts/stream?severity=loud' },
  { method: 'POST', url: '/v1/silences', role: 'sre', bad: '/v1/silences' },
  { method: 'GET', url: '/v1/silences', role: 'sre', bad: '/v1/silences?unknown=1' },
  { method: 'DELETE', url: '/v1/silences/s-1', role: 'sre', bad: `/v1/silences/${'s'.repeat(65)}` },
  { method: 'POST', url: '/v1/anomalies/a@1/ack', role: 'sre', bad: `/v1/anomalies/${'a'.repeat(1_025)}/ack` },
  { method: 'GET', url: '/v1/alerts/dead-letters', role: 'sre', bad: '/v1/alerts/dead-letters?limit=0' },
  { method: 'GET', url: '/v1/consumer-groups', role: 'sre', bad: '/v1/consumer-groups?unknown=1' },
];

test('the table above covers every route that needs a key', async () => {
  await app.ready();
  const documented = app.swagger() as { paths: Record<string, Record<string, unknown>> };
  const PUBLIC = new Set(['/healthz', '/readyz', '/metrics']);
  const routes = Object.entries(documented.paths)
    .filter(([path]) => !PUBLIC.has(path))
    .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
  const covered = ROUTES.map((r) => {
    const path = r.url
      .split('?')[0]!
      .replace(/^\/v1\/workflows\/[^/]+/, '/v1/workflows/{workflowId}')
      .replace(/^\/v1\/agents\/[^/]+/, '/v1/agents/{agent}')
      .replace(/^\/v1\/silences\/[^/]+/, '/v1/silences/{id}')
      .replace(/^\/v1\/anomalies\/[^/]+\/ack/, '/v1/anomalies/{id}/ack');
    return `${r.method} ${path}`;
  }).sort();
  assert.deepEqual(routes, covered);
});

describe('API edges, every route', () => {
  for (const route of ROUTES) {
    test(`${route.method} ${route.url.split('?')[0]}: 401 without or with a wrong key, 403 for the other role, 400 for a bad parameter`, async () => {
      assert.deepEqual(await call(route.method, route.url), { status: 401, code: 'AW_API_UNAUTHORIZED' });
      assert.deepEqual(await call(route.method, route.url, 'not-a-key-at-all-xxxx'), {
        status: 401,
        code: 'AW_API_UNAUTHORIZED',
      });
      const other = route.role === 'auditor' ? KEYS.sre : KEYS.auditor;
      assert.deepEqual(await call(route.method, route.url, other), { status: 403, code: 'AW_API_FORBIDDEN' });
      const bad = await call(route.method, route.bad, KEYS.admin);
      assert.deepEqual(bad, { status: 400, code: 'AW_API_BAD_REQUEST' }, route.bad);
    });
  }

  test("a parameter a route does not take is a 400 naming it; the audit store's old `agent` says what to use", async () => {
    const message = async (url: string) =>
      (
        (await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${KEYS.admin}` } })).json() as {
          error: { message: string };
        }
      ).error.message;
    assert.equal(
      await message('/v1/agents?unknown=1'),
      "querystring has a parameter this route does not take: 'unknown'.",
    );
    assert.match(await message('/v1/audit/events?agent=summarize'), /'agent'.*'capability'.*'producer'/);
  });

  test('an unknown route is a 404 with its code; health needs no key', async () => {
    assert.deepEqual(await call('GET', '/v1/nothing-here', KEYS.admin), { status: 404, code: 'AW_API_NOT_FOUND' });
    assert.equal((await call('GET', '/healthz')).status, 200);
    assert.equal((await call('GET', '/readyz')).status, 200);
  });
});

describe('a store that does not answer', () => {
  test('is a 503 AW_CLICKHOUSE_UNAVAILABLE (from the error catalogue), a failing query a 500', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    let failure: Error = refused;
    const store = { query: async () => Promise.reject(failure) } as unknown as ClickHouseClient;
    const config = loadConfig({ API_KEYS: `root:admin:${KEYS.admin}` });
    const down = await apiOn(store, config.api);
    try {
      const ask = async () => {
        const response = await down.inject({
          method: 'GET',
          url: '/v1/anomalies',
          headers: { authorization: `Bearer ${KEYS.admin}` },
        });
        return { status: response.statusCode, code: (response.json() as { error?: { code?: string } }).error?.code };
      };
      assert.deepEqual(await ask(), { status: 503, code: 'AW_CLICKHOUSE_UNAVAILABLE' });
      failure = new Error('Code: 62. DB::Exception: Syntax error');
      assert.deepEqual(await ask(), { status: 500, code: 'AW_API_INTERNAL' });
    } finally {
      await down.close();
    }
  });
});
