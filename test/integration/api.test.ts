// The compliance API on a real pipeline: 100,000 audited records, then every endpoint through HTTP,
// auth (401/403), keyset pagination without gap or repeat, a streamed export of 100,000 rows in
// bounded memory, chain verification, bad input (400 naming the problem), and SQL-injection strings
// in every filter (no effect, no leaked error text).

import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { buildApi } from '../../src/api/index.js';
import { EXPORT_SLICE_ROWS, planExport } from '../../src/audit/index.js';
import { NO_ALERTS } from '../fixtures/no-alerts.js';
import { createLogger } from '../../src/logger.js';
import type { Service } from '../../src/service.js';
import { stackConfig } from '../../bench/local-stack.js';
import {
  connectedProducer,
  createTopics,
  isolatedOverrides,
  runId,
  startService,
  testKafka,
  waitFor,
} from './harness.js';

const run = runId();
const TOPIC = `agent.tasks.api-${run}`;
const RESULTS = `agent.results.api-${run}`;
const RECORDS = 100_000;
const KEYS = { auditor: 'auditor-key-0123456789', sre: 'sre-key-0123456789abc', admin: 'admin-key-0123456789' };
const T0 = Date.parse('2026-01-01T00:00:00Z');
const kafka = testKafka();
let service: Service;

async function call(path: string, key?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${service.apiUrl}${path}`, {
    headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: response.status, body };
}

before(async () => {
  await createTopics(kafka, [
    { topic: TOPIC, numPartitions: 4 },
    { topic: RESULTS, numPartitions: 1 },
  ]);
  const producer = await connectedProducer(kafka);
  for (let start = 0; start < RECORDS; start += 5_000) {
    await producer.send({
      topic: TOPIC,
      messages: Array.from({ length: 5_000 }, (_, j) => {
        const i = start + j;
        return {
          key: `wf-${i % 1000}`,
          partition: i % 4,
          timestamp: String(T0 + i * 10),
          value: JSON.stringify({
            workflow_id: `wf-${i % 1000}`,
            task_type: `api-${run}`,
            task_id: `t-${i}`,
            payload: { i },
          }),
        };
      }),
    });
  }
  // A small workflow with a retry and an answer, for the timeline (dated after the bulk: record times
  // in a partition are nearly monotonic in real fleets).
  const TL = T0 + RECORDS * 10 + 1_000;
  await producer.send({
    topic: TOPIC,
    messages: [
      {
        key: 'wf-timeline',
        partition: 0,
        timestamp: String(TL),
        value: JSON.stringify({ workflow_id: 'wf-timeline', task_type: 'x', task_id: 'tl-1', payload: {} }),
      },
    ],
  });
  await producer.send({
    topic: TOPIC,
    messages: [
      {
        key: 'wf-timeline',
        partition: 0,
        timestamp: String(TL + 2_000),
        value: JSON.stringify({ workflow_id: 'wf-timeline', task_type: 'x', task_id: 'tl-1', payload: {} }),
      },
    ],
  });
  await producer.send({
    topic: RESULTS,
    messages: [
      {
        key: 'wf-timeline',
        timestamp: String(TL + 2_250),
        value: JSON.stringify({ workflow_id: 'wf-timeline', task_id: 'tl-1', result: 'done' }),
      },
    ],
  });
  await producer.disconnect();

  service = await startService(
    isolatedOverrides(run, {
      API_KEYS: `audit-team:auditor:${KEYS.auditor},oncall:sre:${KEYS.sre},root:admin:${KEYS.admin}`,
      API_MAX_PAGE_ROWS: '1000',
    }),
    [],
  );
  await waitFor('every record audited', () => service.stats().audit.rowsWritten >= RECORDS + 3, 120_000);
});

after(async () => {
  await service?.stop();
});

describe('auth', () => {
  test('401 without a key or with a wrong one; 403 for the wrong role; admin may do everything', async () => {
    assert.equal((await call('/v1/audit/events')).status, 401);
    assert.equal((await call('/v1/audit/events', 'not-a-key-at-all-xxxx')).status, 401);
    const forbidden = await call('/v1/audit/events', KEYS.sre);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.error.code, 'AW_API_FORBIDDEN');
    assert.equal((await call('/v1/anomalies', KEYS.auditor)).status, 403);
    assert.equal((await call('/v1/agents', KEYS.auditor)).status, 403);
    for (const path of [
      '/v1/audit/events?limit=1',
      '/v1/anomalies',
      '/v1/agents',
      `/v1/audit/verify?topic=${TOPIC}&partition=0&from=0&to=10`,
    ]) {
      assert.equal((await call(path, KEYS.admin)).status, 200, path);
    }
    const fromHeader = await fetch(`${service.apiUrl}/v1/audit/events?limit=1`, {
      headers: { 'x-api-key': KEYS.auditor },
    });
    assert.equal(fromHeader.status, 200);
  });

  test('health, readiness, the OpenAPI document and the docs page need no key', async () => {
    assert.deepEqual((await call('/healthz')).body, { ok: true });
    assert.deepEqual((await call('/readyz')).body, {
      ok: true,
      checks: { kafka: true, clickhouse: true, partitions: true },
      reasons: [],
    });
    const openapi = await call('/openapi.json');
    assert.equal(openapi.status, 200);
    for (const path of [
      '/v1/audit/events',
      '/v1/audit/export',
      '/v1/audit/verify',
      '/v1/workflows/{workflowId}/timeline',
      '/v1/anomalies',
      '/v1/agents',
      '/healthz',
      '/readyz',
    ]) {
      assert.ok(openapi.body.paths[path], `OpenAPI lists ${path}`);
    }
    const docs = await fetch(`${service.apiUrl}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
  });
});

describe('audit queries', () => {
  test('keyset pagination walks a filtered range with no gap and no repeat', async () => {
    const seen = new Set<string>();
    let cursor: string | null = null;
    let previous = '';
    let pages = 0;
    const from = new Date(T0 + 200_000).toISOString();
    const to = new Date(T0 + 300_000).toISOString(); // offsets 20,000..29,999 → 10,000 records
    do {
      const page: { status: number; body: any } = await call(
        `/v1/audit/events?topic=${TOPIC}&from=${from}&to=${to}&limit=777${cursor === null ? '' : `&cursor=${cursor}`}`,
        KEYS.auditor,
      );
      assert.equal(page.status, 200, JSON.stringify(page.body));
      for (const record of page.body.records) {
        const id = `${record.partition}:${record.offset}`;
        assert.ok(!seen.has(id), `repeated ${id}`);
        seen.add(id);
        const order = `${record.ts}|${record.topic}|${String(record.partition).padStart(4, '0')}|${record.offset.padStart(20, '0')}`;
        assert.ok(order > previous, 'stable order');
        previous = order;
      }
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor !== null);
    assert.equal(seen.size, 10_000);
    assert.equal(pages, Math.ceil(10_000 / 777));
  });

  test('filters by workflow, task, kind and agent', async () => {
    const byWorkflow = await call('/v1/audit/events?workflowId=wf-7&limit=1000', KEYS.auditor);
    assert.equal(byWorkflow.body.records.length, 100);
    assert.ok(byWorkflow.body.records.every((r: any) => r.workflow_id === 'wf-7'));
    const byTask = await call('/v1/audit/events?taskId=t-4242', KEYS.auditor);
    assert.deepEqual(
      byTask.body.records.map((r: any) => JSON.parse(r.payload).payload.i),
      [4242],
    );
    const results = await call(`/v1/audit/events?kind=result&capability=api-${run}`, KEYS.auditor);
    assert.deepEqual(
      results.body.records.map((r: any) => r.task_id),
      ['tl-1'],
    );
  });

  test("a workflow's timeline: its events in order, with the retry and the latency", async () => {
    const timeline = await call('/v1/workflows/wf-timeline/timeline', KEYS.auditor);
    assert.equal(timeline.status, 200);
    assert.deepEqual(
      timeline.body.records.map((r: any) => [r.kind, r.kind === 'request' ? r.retries : '-']),
      [
        ['request', 0],
        ['request', 1],
        ['result', '-'],
      ],
    );
    // Live, the answer carries the latency; read before its request (as here, catching up), the request does.
    const [, retry, result] = timeline.body.records;
    assert.ok(
      result.latency_ms === 250 || retry.latency_ms === 250,
      `latency ${result.latency_ms} / ${retry.latency_ms}`,
    );
    const { maxLatencyMs, ...summary } = timeline.body.summary;
    assert.deepEqual(summary, { events: 3, tasks: 1, retries: 1, timedOut: 0 });
    // Live: 250 ms (last attempt to answer). Catching up: the first attempt also carries its
    // end-to-end latency, 2,250 ms (first attempt to answer).
    assert.ok(maxLatencyMs === 250 || maxLatencyMs === 2_250, `maxLatencyMs ${maxLatencyMs}`);
  });

  test("workflow ids are accepted up to the schema's 512 characters, also percent-encoded; longer is a 400", async () => {
    for (const id of ['w'.repeat(101), 'w'.repeat(512), '😀'.repeat(256)]) {
      const response = await call(`/v1/workflows/${encodeURIComponent(id)}/timeline`, KEYS.auditor);
      assert.equal(response.status, 200, `${id.length} characters: ${JSON.stringify(response.body)}`);
      assert.deepEqual(response.body.records, []);
    }
    const tooLong = await call(`/v1/workflows/${'w'.repeat(513)}/timeline`, KEYS.auditor);
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.error.code, 'AW_API_BAD_REQUEST');
  });

  test('an export of 100,000 rows streams as NDJSON (and CSV) without buffering it in memory', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const response = await fetch(`${service.apiUrl}/v1/audit/export?topic=${TOPIC}&format=ndjson`, {
      headers: { authorization: `Bearer ${KEYS.auditor}` },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/x-ndjson/);
    let lines = 0;
    let bytes = 0;
    let previous = '';
    const seen = new Set<string>();
    for await (const line of createInterface({ input: Readable.fromWeb(response.body as never) })) {
      lines += 1;
      bytes += line.length;
      // Read in record-time slices: still one ordered sequence, each row once.
      const row = JSON.parse(line) as { ts_ms: string; topic: string; partition: number; offset_text: string };
      const position = `${String(row.ts_ms).padStart(15, '0')}|${row.topic}|${String(row.partition).padStart(5, '0')}|${row.offset_text.padStart(20, '0')}`;
      assert.ok(position > previous, `row ${lines} out of order: ${position} after ${previous}`);
      previous = position;
      seen.add(`${row.partition}:${row.offset_text}`);
      // Live heap, after a collection: garbage not yet collected is not buffering (and made this
      // check flaky, 78 MB in one CI run against a usual 20 MB).
      if (lines % 20_000 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
      if (lines === 1) assert.equal(JSON.parse(line).topic, TOPIC);
    }
    assert.equal(lines, RECORDS + 2);
    assert.equal(seen.size, RECORDS + 2, 'no row twice');
    const growth = peak - before;
    assert.ok(
      growth < Math.max(64 * 1024 * 1024, bytes / 2),
      `heap grew ${Math.round(growth / 1048576)} MB while streaming ${Math.round(bytes / 1048576)} MB`,
    );

    const csv = await fetch(`${service.apiUrl}/v1/audit/export?workflowId=wf-3&format=csv`, {
      headers: { authorization: `Bearer ${KEYS.auditor}` },
    });
    const rows = (await csv.text()).trim().split('\n');
    assert.match(rows[0]!, /^"ts_ms","topic","partition","offset_text"/);
    assert.equal(rows.length, 1 + 100);
  });

  test('an export is read in record-time slices that cover its range; beyond API_MAX_EXPORT_ROWS it is a 400', async () => {
    const limits = { timeoutMs: 10_000, maxRows: 1_000_000 };
    const plan = await planExport(service.clickhouse, { topic: TOPIC }, limits);
    assert.equal(plan.rows, RECORDS + 2);
    assert.ok(plan.slices.length >= Math.ceil(plan.rows / EXPORT_SLICE_ROWS) - 1, `${plan.slices.length} slices`);
    for (const [i, slice] of plan.slices.entries()) {
      assert.ok(slice !== null && slice.from < slice.to);
      if (i > 0) assert.equal(slice.from, plan.slices[i - 1]!.to, 'slices are contiguous');
    }
    const small = await planExport(service.clickhouse, { workflowId: 'wf-3' }, limits);
    assert.deepEqual(small, { rows: 100, slices: [null] });

    // The same API with a small export limit.
    const api = await buildApi(
      {
        clickhouse: service.clickhouse,
        config: {
          ...stackConfig(isolatedOverrides(run, { API_KEYS: `audit-team:auditor:${KEYS.auditor}` })).api,
          maxExportRows: 50,
        },
        agents: () => [],
        clockFindings: () => [],
        acceptBaseline: async () => 'unknown' as const,
        metrics: async () => ({ contentType: 'text/plain', body: '' }),
        readiness: async () => ({ checks: { kafka: true, clickhouse: true }, reasons: [] }),
        alerts: NO_ALERTS,
      },
      createLogger('fatal'),
    );
    try {
      const refused = await api.inject({
        url: '/v1/audit/export?workflowId=wf-3',
        headers: { authorization: `Bearer ${KEYS.auditor}` },
      });
      assert.equal(refused.statusCode, 400);
      assert.match(refused.json().error.message, /matches 100 rows, more than API_MAX_EXPORT_ROWS \(50\)/);
      const allowed = await api.inject({
        url: '/v1/audit/export?taskId=t-3',
        headers: { authorization: `Bearer ${KEYS.auditor}` },
      });
      assert.equal(allowed.statusCode, 200);
      assert.equal(allowed.body.trim().split('\n').length, 1);
    } finally {
      await api.close();
    }
  });

  test('verify reports an intact chain for every partition', async () => {
    for (let p = 0; p < 4; p += 1) {
      const report = await call(`/v1/audit/verify?topic=${TOPIC}&partition=${p}`, KEYS.auditor);
      assert.equal(report.status, 200);
      assert.equal(report.body.ok, true, JSON.stringify(report.body.problem));
      assert.ok(report.body.rowsChecked >= RECORDS / 4);
    }
  });

  test('anomalies and agents answer for SREs', async () => {
    const anomalies = await call('/v1/anomalies?state=FIRING&limit=10', KEYS.sre);
    assert.equal(anomalies.status, 200);
    assert.ok(Array.isArray(anomalies.body.anomalies));
    // Windows close once every partition passed them; a quiet partition stops holding the clock after EVENT_TIME_IDLE_MS.
    let agents: any[] = [];
    try {
      await waitFor(
        'a window of the agent learned',
        async () => {
          agents = (await call('/v1/agents', KEYS.sre)).body.agents;
          return agents.some((a: any) => a.agent === `api-${run}` && a.baselineWindows > 0 && a.features.length === 8);
        },
        60_000,
      );
    } catch (err) {
      // What the clock and the detector saw, to tell a clock that never moved from a detector that never learned.
      const { pipeline, detector, tap } = service.stats();
      throw new Error(
        `${(err as Error).message}; agents ${JSON.stringify(agents.map((a: any) => [a.agent, a.baselineWindows, a.lastWindow?.windowEnd]))}; pipeline ${JSON.stringify(pipeline)}; detector ${JSON.stringify(detector)}; tap ${JSON.stringify(tap)}; stalls ${JSON.stringify(service.pipelineStalls())}`,
      );
    }
  });
});

describe('accepting a new normal', () => {
  test('POST /v1/agents/{agent}/accept: 409 without a firing incident, 404 for an unknown agent, 403 for an auditor', async () => {
    await waitFor(
      'the agent to be watched',
      async () => (await call('/v1/agents', KEYS.sre)).body.agents.some((a: any) => a.agent === `api-${run}`),
      60_000,
    );
    const post = (agent: string, key: string) =>
      fetch(`${service.apiUrl}/v1/agents/${encodeURIComponent(agent)}/accept`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
      });
    const notFiring = await post(`api-${run}`, KEYS.sre);
    assert.equal(notFiring.status, 409);
    assert.equal(((await notFiring.json()) as any).error.code, 'AW_API_CONFLICT');
    const unknown = await post('nobody', KEYS.sre);
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as any).error.message, /no agent "nobody" is watched/);
    assert.equal((await post(`api-${run}`, KEYS.auditor)).status, 403);
  });
});

describe('bad input and injection', () => {
  test('unknown filters, bad times and oversized limits are a 400 that says what is wrong', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/v1/audit/events?workflow=wf-1', /does not take: 'workflow'/],
      ['/v1/audit/events?from=yesterday', /from.*must match format "date-time"/],
      ['/v1/audit/events?limit=1000000', /limit must be <= 1000/],
      ['/v1/audit/events?kind=everything', /kind must be equal to one of the allowed values/],
      ['/v1/audit/events?cursor=bm90LWEtY3Vyc29y', /cursor is not a cursor this API returned/],
      ['/v1/audit/verify?topic=x', /must have required property 'partition'/],
    ];
    for (const [path, message] of cases) {
      const response = await call(path, KEYS.admin);
      assert.equal(response.status, 400, path);
      assert.equal(response.body.error.code, 'AW_API_BAD_REQUEST');
      assert.match(response.body.error.message, message, path);
    }
  });

  test('SQL-injection strings in every filter have no effect and leak nothing', async () => {
    const attacks = [
      "' OR 1=1 --",
      "x' UNION SELECT name FROM system.tables --",
      '"; DROP TABLE audit_events; --',
      "\\' OR ''='",
      'wf-1) OR (1=1',
    ];
    for (const attack of attacks) {
      for (const filter of ['workflowId', 'taskId', 'producer', 'capability', 'topic']) {
        const response = await call(`/v1/audit/events?${filter}=${encodeURIComponent(attack)}`, KEYS.auditor);
        assert.equal(response.status, 200, `${filter}=${attack}: ${JSON.stringify(response.body)}`);
        assert.deepEqual(response.body.records, [], `${filter}=${attack} matched rows`);
      }
      const timeline = await call(`/v1/workflows/${encodeURIComponent(attack)}/timeline`, KEYS.auditor);
      assert.equal(timeline.status, 200);
      assert.deepEqual(timeline.body.records, []);
      const anomalies = await call(`/v1/anomalies?agent=${encodeURIComponent(attack)}`, KEYS.sre);
      assert.deepEqual([anomalies.status, anomalies.body.anomalies], [200, []]);
      const verify = await call(`/v1/audit/verify?topic=${encodeURIComponent(attack)}&partition=0`, KEYS.auditor);
      assert.equal(verify.status, 400, 'topic names are validated');
      assert.doesNotMatch(JSON.stringify(verify.body), /ClickHouse|SYNTAX|Code:/i);
    }
    const count = await call(`/v1/audit/events?topic=${TOPIC}&limit=1`, KEYS.auditor);
    assert.equal(count.body.records.length, 1, 'the table is still there');
  });
});
