// Part 4: compliance query latency on a large audit store in the embedded engine. Fills a fresh
// audit_events table (the real migrations) with N rows generated inside ClickHouse (INSERT …
// SELECT, in chunks of 1,000,000): 29 days of records, 10 per workflow (100,000 workflows per
// 1,000,000 rows, interleaved in time), 200 agents, ~420-byte payloads with a random part. Then
// times, through the same functions the API uses, a workflow timeline and two filtered searches,
// each for different random values, and prints p50/p99 as JSON: once right after the load, while
// the engine still merges the new parts, and again once the merges settled (as in a store filled
// over days).
//   node dist/bench/queries/queries.js [rows]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createClickHouseClient,
  HASHED_FIELDS_V1,
  migrate,
  searchAudit,
  workflowTimeline,
} from '../../src/audit/index.js';
import { loadConfig } from '../../src/config/index.js';
import { progress } from '../child.js';

const rows = Number(process.argv[2] ?? 10_000_000);
const CHUNK = 1_000_000;
const START = Date.UTC(2026, 9, 1);
const STEP_MS = 250; // 10,000,000 rows span 29 days
const ITERATIONS = 200;

const dataDir = mkdtempSync(join(tmpdir(), 'aw-bench-queries-'));
const config = loadConfig({ CLICKHOUSE_DATA_DIR: dataDir });
const client = await createClickHouseClient(config.clickhouse);
await migrate(client, { retentionDays: 0 });

const filled = performance.now();
for (let first = 0; first < rows; first += CHUNK) {
  const count = Math.min(CHUNK, rows - first);
  // w: workflow of row n — 100,000 workflows per chunk, each with 10 events spread over the chunk.
  await client.command({
    query: `INSERT INTO audit_events (${[...HASHED_FIELDS_V1, 'prev_hash', 'hash', 'ingested_at', 'chain_version'].join(', ')})
        SELECT
          concat('agent.', if(n % 2 = 0, 'tasks', 'results'), '.cap', toString(n % 12)) AS topic,
          toUInt32(0) AS partition, n AS offset, toInt64(n) - 1 AS prev_offset,
          fromUnixTimestamp64Milli(toInt64(${START} + n * ${STEP_MS}), 'UTC') AS ts,
          concat('wf-', toString(w)) AS key, map('a2a-attempt', '1') AS headers,
          concat('agent-', toString(cityHash64(w) % 200)) AS agent, concat('cap', toString(n % 12)) AS capability,
          concat('wf-', toString(w)) AS workflow_id, concat('task-', toString(intDiv(n, 2))) AS task_id,
          concat('msg-', toString(n)) AS message_id, concat('wf-', toString(w)) AS context_id, toString(n) AS rpc_id,
          if(n % 2 = 0, 'SendMessage', '') AS method, toString(n % 5) AS step,
          multiIf(n % 2 = 0, 'request', n % 50 = 1, 'error', 'result') AS kind,
          multiIf(n % 2 = 0, '', n % 50 = 1, 'failed', 'completed') AS state, if(n % 50 = 1, 'WorkerError', '') AS error_type,
          toUInt16(1) AS attempt, toUInt32(420) AS payload_bytes, 'a2a' AS encoding, toInt64(-1) AS schema_id, '' AS parse_error, '' AS dlq_reason,
          if(n % 2 = 1, toInt64(200 + n % 1800), toInt64(-1)) AS latency_ms, toUInt16(0) AS retries, toUInt8(0) AS timed_out,
          concat('{"jsonrpc":"2.0","id":"', toString(n), '","method":"SendMessage","params":{"message":{"contextId":"wf-', toString(w),
                 '","parts":[{"text":"', randomPrintableASCII(96), ' lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco"}]}}}') AS payload,
          'text' AS payload_encoding, lower(hex(sipHash128(n - 1))) AS prev_hash, lower(hex(sipHash128(n))) AS hash, now64(3) AS ingested_at, toUInt8(2) AS chain_version
        FROM (SELECT number + ${first} AS n, intDiv(number + ${first}, ${CHUNK}) * 100000 + (number + ${first}) % 100000 AS w FROM numbers(${count}))`,
  });
  // Chain version 2 keeps correlation outcomes in task_outcomes: each answer's latency, as the writer stores it.
  await client.command({
    query: `INSERT INTO task_outcomes (topic, partition, offset, ts, workflow_id, task_id, producer, capability, kind, attempt,
              retries, latency_ms, timed_out, answered_by, version, written_at)
            SELECT topic, partition, offset, ts, workflow_id, task_id, producer, capability, kind, 1, 0, latency_ms, 0, producer,
              offset, now64(3)
            FROM audit_events WHERE offset >= ${first} AND offset < ${first + count} AND latency_ms >= 0`,
  });
  progress(`queries: ${(first + count).toLocaleString('en')} of ${rows.toLocaleString('en')} audit rows generated`);
}
const fillSeconds = (performance.now() - filled) / 1000;
const [stored] = await (
  await client.query({
    query:
      "SELECT formatReadableSize(sum(bytes_on_disk)) AS disk FROM system.parts WHERE table = 'audit_events' AND active",
    format: 'JSONEachRow',
  })
).json<{ disk: string }>();
const [count] = await (
  await client.query({ query: 'SELECT count() AS n FROM audit_events', format: 'JSONEachRow' })
).json<{ n: string }>();
if (Number(count!.n) !== rows) throw new Error(`expected ${rows} rows, found ${count!.n}`);

const limits = { timeoutMs: config.api.queryTimeoutMs, maxRows: config.api.maxPageRows };
const workflows = Math.ceil(rows / CHUNK) * 100_000;
let seed = 7;
const random = (n: number) => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed % n;
};
const days = Math.max(1, Math.floor((rows * STEP_MS) / 86_400_000));

async function timed(
  name: string,
  query: () => Promise<number>,
): Promise<{ name: string; p50Ms: number; p99Ms: number; meanRows: number }> {
  for (let i = 0; i < 20; i += 1) await query();
  const ms: number[] = [];
  let found = 0;
  for (let i = 0; i < ITERATIONS; i += 1) {
    const started = performance.now();
    found += await query();
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return {
    name,
    p50Ms: ms[Math.floor(ITERATIONS * 0.5)]!,
    p99Ms: ms[Math.floor(ITERATIONS * 0.99)]!,
    meanRows: found / ITERATIONS,
  };
}

async function measure() {
  return [
    await timed(
      'workflow timeline (GET /v1/workflows/{id}/timeline)',
      async () => (await workflowTimeline(client, `wf-${random(workflows)}`, 1000, limits)).records.length,
    ),
    await timed('search: agent + kind=error + one day, first page of 100', async () => {
      const day = START + random(days) * 86_400_000;
      return (
        await searchAudit(
          client,
          { producer: `agent-${random(200)}`, kind: 'error', from: day, to: day + 86_400_000 },
          { limit: 100 },
          limits,
        )
      ).records.length;
    }),
    await timed(
      'search: one task id',
      async () =>
        (await searchAudit(client, { taskId: `task-${random(rows / 2)}` }, { limit: 100 }, limits)).records.length,
    ),
  ];
}

async function activeParts(): Promise<{ parts: number; merges: number }> {
  const [row] = await (
    await client.query({
      query:
        "SELECT (SELECT count() FROM system.parts WHERE table = 'audit_events' AND active) AS parts, (SELECT count() FROM system.merges WHERE table = 'audit_events') AS merges",
      format: 'JSONEachRow',
    })
  ).json<{ parts: string; merges: string }>();
  return { parts: Number(row!.parts), merges: Number(row!.merges) };
}

const whileMerging = { ...(await activeParts()), figures: await measure() };
const settleStarted = performance.now();
let state = await activeParts();
while (state.merges > 0 && performance.now() - settleStarted < 300_000) {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  state = await activeParts();
}
progress(
  `queries: merges settled after ${((performance.now() - settleStarted) / 1000).toFixed(0)} s more (${state.parts} parts)`,
);
const settled = { ...state, figures: await measure() };
await client.close();
rmSync(dataDir, { recursive: true, force: true });
console.log(JSON.stringify({ rows, fillSeconds, disk: stored!.disk, whileMerging, settled }));
