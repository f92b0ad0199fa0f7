// Metrics and dashboards against real parts: a simulated fleet with one fault runs through
// agentwatch; a real Prometheus (Debian package) scrapes /metrics with an API key; then every panel
// query of the shipped Grafana dashboards runs, ClickHouse ones against the real audit store with
// the plugin's macros expanded as grafana-clickhouse-datasource expands them, Prometheus ones
// against that Prometheus, and each must return data.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createSchemaRegistry } from '../../src/decode/index.js';
import { createLogger } from '../../src/logger.js';
import type { Service } from '../../src/service.js';
import { DEFAULT_CAPABILITIES, FleetSimulator, type Scenario } from '../../src/sim/index.js';
import { connectedProducer, isolatedOverrides, runId, startService, testKafka, waitFor } from './harness.js';
import { repoRoot, stackConfig } from '../../bench/local-stack.js';

const run = runId();
const name = (capability: string) => `${capability}-${run}`;
const sreKey = `prometheus-${run}-scrape-key`;
const dir = mkdtempSync(join(tmpdir(), 'aw-observability-'));
let service: Service;
let simulator: FleetSimulator | undefined;
let prometheus: ChildProcess | undefined;
let prometheusUrl = '';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

before(async () => {
  const scenario: Scenario = {
    durationMs: 10 * 60_000,
    speed: 60,
    workflowsPerSecond: 2,
    maxAttempts: 3,
    capabilities: DEFAULT_CAPABILITIES.map((c) => ({ ...c, name: name(c.name) })),
    faults: [{ kind: 'latency-x4', agent: name('summarize'), atMs: 6 * 60_000, durationMs: 3 * 60_000 }],
  };
  const startEventTime = Date.now() - scenario.durationMs;
  simulator = new FleetSimulator(
    testKafka(),
    createSchemaRegistry(stackConfig().schemaRegistry),
    scenario,
    createLogger('warn'),
    { startEventTime, seed: 11, partitions: 2 },
  );
  await simulator.ensureTopics();
  // A broken producer: one record no decoder understands (for the DLQ panel), stamped in the fleet's
  // event time (a record from the wall clock would be ten minutes ahead and close every window).
  const producer = await connectedProducer(testKafka());
  await producer.send({
    topic: `agent.tasks.${name('extract')}`,
    messages: [{ key: 'broken', timestamp: String(startEventTime), value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) }],
  });
  await producer.disconnect();
  service = await startService(
    isolatedOverrides(run, {
      INGEST_TOPIC_REFRESH_MS: '1000',
      DETECT_LATENESS_MS: '60000',
      EVENT_TIME_SPEED: '60',
      EVENT_TIME_ANCHOR: `${startEventTime}@${Date.now()}`,
      API_KEYS: `prometheus:sre:${sreKey}`,
      GROUP_WATCH_INTERVAL_MS: '1000', // the simulated workers' groups, for the consumer-group panels
    }),
    [],
  );

  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  const target = new URL(service.apiUrl).host;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s }',
      'scrape_configs:',
      '  - job_name: agentwatch',
      `    authorization: { credentials: ${JSON.stringify(sreKey)} }`,
      `    static_configs: [{ targets: [${JSON.stringify(target)}] }]`,
    ].join('\n'),
  );
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  prometheus.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  await waitFor(
    `Prometheus to be ready (${log})`,
    async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.ok === true,
    30_000,
  );

  await simulator.start();
  await simulator.done;
  await waitFor(
    'the latency alert',
    async () => Number((await rows('SELECT count() AS n FROM anomalies'))[0]!.n) > 0,
    30_000,
  );
  await waitFor(
    'every record audited',
    () => service.stats().audit.buffered === 0 && service.stats().tap.records === service.stats().audit.rowsWritten,
    30_000,
  );
  await new Promise((resolve) => setTimeout(resolve, 2_500)); // two more scrapes
});

after(async () => {
  prometheus?.kill('SIGTERM');
  await simulator?.stop();
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function rows(sql: string): Promise<Array<Record<string, string>>> {
  return (await service.clickhouse.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, string>>();
}

async function promQuery(
  path: string,
  params: Record<string, string>,
): Promise<Array<{ metric: Record<string, string>; value?: unknown; values?: unknown[] }>> {
  const response = await fetch(`${prometheusUrl}/api/v1/${path}?${new URLSearchParams(params).toString()}`);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data: { result: Array<{ metric: Record<string, string>; value?: unknown; values?: unknown[] }> };
  };
  assert.equal(body.status, 'success', `${params.query}: ${body.error}`);
  return body.data.result;
}

test('/metrics needs a key of role sre, and promtool accepts the exposition', async () => {
  assert.equal((await fetch(`${service.apiUrl}/metrics`)).status, 401);
  const response = await fetch(`${service.apiUrl}/metrics`, { headers: { authorization: `Bearer ${sreKey}` } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  // promtool exits 1 on lint findings too; prom-client's own process metrics have three (gauges
  // named *_total), which are not ours to rename. Anything else fails the test.
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const findings = `${lint.stdout}${lint.stderr}`
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter(
      (line) =>
        !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(
          line,
        ),
    );
  assert.deepEqual(findings, [], 'promtool check metrics');
  assert.ok(
    lint.status === 0 || lint.status === 3,
    `promtool parsed the exposition (status ${lint.status}; 3 means lint findings only)`,
  );
  for (const metric of [
    'agentwatch_records_consumed_total',
    'agentwatch_records_audited_total',
    'agentwatch_events_decoded_total',
    'agentwatch_dlq_records_total',
    'agentwatch_batch_stage_seconds_bucket',
    'agentwatch_audit_insert_seconds_bucket',
    'agentwatch_tasks_in_flight',
    'agentwatch_tasks_evicted_total',
    'agentwatch_consumer_lag',
    'agentwatch_alerts_total',
    'nodejs_eventloop_lag_p99_seconds',
  ]) {
    assert.match(text, new RegExp(`^${metric}[{ ]`, 'm'), `${metric} is exposed`);
  }
});

test('a real Prometheus scrapes it: audited records per topic match the audit store, lag is known per partition', async () => {
  const [up] = await promQuery('query', { query: 'up{job="agentwatch"}' });
  assert.equal((up?.value as [number, string] | undefined)?.[1], '1', 'the scrape succeeds with the API key');
  const audited = await promQuery('query', { query: `sum(agentwatch_records_audited_total{topic=~".*-${run}"})` });
  const [{ n }] = (await rows('SELECT toString(count()) AS n FROM audit_events')) as [{ n: string }];
  assert.equal((audited[0]!.value as [number, string])[1], n, 'Prometheus saw every audited record');
  const lag = await promQuery('query', { query: `agentwatch_consumer_lag{topic="agent.tasks.${name('extract')}"}` });
  assert.equal(lag.length, 2, 'one lag series per partition');
  const alerts = await promQuery('query', {
    query: `agentwatch_alerts_total{agent="${name('summarize')}",state="FIRING"}`,
  });
  assert.ok(
    alerts.length > 0,
    `the alert is counted: ${JSON.stringify(await promQuery('query', { query: 'agentwatch_alerts_total' }))} ${JSON.stringify(await rows('SELECT agent, state FROM anomalies'))}`,
  );
});

interface Target {
  datasource?: { type: string };
  rawSql?: string;
  expr?: string;
  refId: string;
}
interface Dashboard {
  title: string;
  panels: Array<{ title: string; targets: Target[] }>;
  annotations: { list: Array<{ name: string; target: Target }> };
  templating: { list: Array<{ name: string; type: string; query: string }> };
}

const range = { from: Date.now() - 3_600_000, to: Date.now() + 60_000, intervalSeconds: 5 };

/** Grafana's `${name:sqlstring}` formatting: each value quoted, quotes doubled, comma-separated. */
function sqlstring(values: readonly string[]): string {
  return values.map((v) => `'${v.replaceAll("'", "''")}'`).join(',');
}

/** The plugin's macros (grafana-clickhouse-datasource pkg/macros), with the dashboard's time range. */
function expandMacros(sql: string): string {
  const from = Math.floor(range.from / 1000);
  const to = Math.floor(range.to / 1000);
  return sql
    .replace(
      /\$__timeFilter\(([^)]+)\)/g,
      (_m, column: string) => `${column} >= toDateTime(${from}) AND ${column} <= toDateTime(${to})`,
    )
    .replace(
      /\$__timeInterval\(([^)]+)\)/g,
      (_m, column: string) => `toStartOfInterval(toDateTime(${column}), INTERVAL ${range.intervalSeconds} second)`,
    )
    .replace(/\$__interval_s\b/g, String(range.intervalSeconds))
    .replace(/\$__fromTime\b/g, `toDateTime(${from})`)
    .replace(/\$__toTime\b/g, `toDateTime(${to})`);
}

function expandVariables(sql: string, values: Record<string, readonly string[]>): string {
  return sql.replace(/\$\{(\w+):sqlstring\}/g, (_m, variable: string) => {
    const value = values[variable];
    assert.ok(value !== undefined, `the test knows a value for the variable ${variable}`);
    return sqlstring(value);
  });
}

test('every panel, annotation and variable query of the shipped dashboards returns data', async () => {
  const files = readdirSync(join(repoRoot, 'grafana/dashboards')).filter((f) => f.endsWith('.json'));
  assert.deepEqual(files.sort(), ['audit-explorer.json', 'fleet-overview.json']);
  const [workflow] = await rows(
    `SELECT workflow_id FROM audit_events WHERE capability = '${name('summarize')}' LIMIT 1`,
  );
  const values: Record<string, string[]> = { workflow: [workflow!.workflow_id!], search: ['xxx'], agent: [] };
  let checked = 0;
  for (const file of files) {
    const dashboard = JSON.parse(readFileSync(join(repoRoot, 'grafana/dashboards', file), 'utf8')) as Dashboard;
    const queries: Array<{ where: string; target: Target }> = [];
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
      const found = await rows(expandMacros(variable.query));
      assert.ok(found.length > 0, `${dashboard.title}: variable ${variable.name} has values`);
      values[variable.name] = found.map((r) => Object.values(r)[0]!);
    }
    for (const panel of dashboard.panels)
      for (const target of panel.targets)
        queries.push({ where: `${dashboard.title} / ${panel.title} / ${target.refId}`, target });
    for (const annotation of dashboard.annotations.list)
      queries.push({ where: `${dashboard.title} / annotation ${annotation.name}`, target: annotation.target });

    for (const { where, target } of queries) {
      if (target.datasource?.type === 'grafana-clickhouse-datasource') {
        const sql = expandMacros(expandVariables(target.rawSql!, values));
        assert.doesNotMatch(sql, /\$/, `${where}: every macro and variable is expanded`);
        const result = await rows(sql).catch((err: Error) => assert.fail(`${where}: ${err.message}\n${sql}`));
        assert.ok(result.length > 0, `${where} returns rows:\n${sql}`);
      } else {
        assert.equal(target.datasource?.type, 'prometheus', `${where}: a known data source`);
        const result = await promQuery('query_range', {
          query: target.expr!,
          start: String((Date.now() - 300_000) / 1000),
          end: String(Date.now() / 1000),
          step: '1',
        });
        assert.ok(
          result.some((series) => (series.values?.length ?? 0) > 0),
          `${where} returns samples: ${target.expr}`,
        );
      }
      checked += 1;
    }
  }
  assert.ok(checked >= 15, `${checked} queries checked`);
  // The alert annotations link an example workflow's timeline in the audit explorer.
  const fleet = JSON.parse(readFileSync(join(repoRoot, 'grafana/dashboards/fleet-overview.json'), 'utf8')) as Dashboard;
  const annotations = await rows(expandMacros(fleet.annotations.list.find((a) => a.name === 'Alerts')!.target.rawSql!));
  assert.ok(
    annotations.some((a) =>
      /<a href="\/d\/agentwatch-audit\/[^"]*\?var-workflow=[^"]+">timeline of /.test(a.text ?? ''),
    ),
    JSON.stringify(annotations.slice(0, 2)),
  );
});
