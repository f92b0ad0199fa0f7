// The embedded ClickHouse engine runs in a process of its own (src/audit/engine-process.ts). A crash
// of either side loses nothing, on the real broker and a real `agentwatch run`:
// - the engine's process SIGKILLed mid-ingest: agentwatch logs it, starts a new one and goes on
//   (the same agentwatch process); every record is stored exactly once and every chain verifies;
// - agentwatch SIGKILLed: its engine process notices, closes the store and exits, releasing the
//   data directory for the next start.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { createClickHouseClient, verifyPartition } from '../../src/audit/index.js';
import { stackConfig } from '../../bench/local-stack.js';
import {
  auditRowCounts,
  connectedProducer,
  createTopics,
  isolatedOverrides,
  recordsInEventsFile,
  runId,
  spawnAgentwatch,
  testKafka,
  waitFor,
} from './harness.js';

const run = runId();
const TOPIC = `agent.tasks.engine-${run}`;
const PARTITIONS = 4;
const RECORDS = 40_000;
const dir = mkdtempSync(join(tmpdir(), `aw-engine-${run}-`));
const eventsFile = join(dir, 'events.ndjson');
const overrides = isolatedOverrides(run, {
  CLICKHOUSE_DATA_DIR: join(dir, 'clickhouse'),
  EVENTS_FILE: eventsFile,
  // Small inserts, so that the kill lands between inserts and inside one.
  AUDIT_BATCH_ROWS: '1000',
  INGEST_MAX_BYTES_PER_PARTITION: '65536',
  LOG_LEVEL: 'info',
});
const kafka = testKafka();
let agentwatch: ChildProcess | undefined;

after(() => {
  agentwatch?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** agentwatch with its JSON log lines collected. */
function start(): { child: ChildProcess; logs: Array<Record<string, unknown>> } {
  const child = spawnAgentwatch(['run'], overrides, ['ignore', 'pipe', 'inherit']);
  const logs: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a log line
    }
  });
  return { child, logs };
}

function enginePids(logs: Array<Record<string, unknown>>): number[] {
  return logs.filter((l) => l.msg === 'embedded ClickHouse engine process started').map((l) => Number(l.enginePid));
}

/** Whether `pid` is gone (or a zombie nobody reaped yet: it has exited). */
function exited(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') === true;
  } catch {
    return true;
  }
}

async function committedTotal(): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId: overrides.KAFKA_GROUP_ID!, topics: [TOPIC] });
    return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

test('the engine process SIGKILLed mid-ingest: a new one takes over, every record stored once, chains verify', async (t) => {
  await createTopics(kafka, [{ topic: TOPIC, numPartitions: PARTITIONS }]);
  const producer = await connectedProducer(kafka);
  for (let from = 0; from < RECORDS; from += 2_000) {
    await producer.send({
      topic: TOPIC,
      messages: Array.from({ length: 2_000 }, (_, j) => {
        const i = from + j;
        return {
          key: `wf-${i % 500}`,
          partition: i % PARTITIONS,
          value: JSON.stringify({
            workflow_id: `wf-${i % 500}`,
            task_type: 'engine',
            task_id: `t-${i}`,
            payload: { i },
          }),
        };
      }),
    });
  }
  await producer.disconnect();

  const { child, logs } = start();
  agentwatch = child;
  await waitFor('the engine process', () => enginePids(logs).length === 1, 60_000);
  const [firstEngine] = enginePids(logs);
  await waitFor('some records read', () => recordsInEventsFile(eventsFile) >= RECORDS / 5, 120_000);
  process.kill(firstEngine!, 'SIGKILL');
  const [readAtKill, committedAtKill] = [recordsInEventsFile(eventsFile), await committedTotal()];
  t.diagnostic(`engine killed with ${readAtKill} records read and ${committedAtKill} committed`);
  assert.ok(committedAtKill < RECORDS, 'the kill lands mid-ingest');

  await waitFor('a new engine process', () => enginePids(logs).length === 2, 60_000);
  assert.notEqual(enginePids(logs)[1], firstEngine);
  assert.ok(
    logs.some((l) => l.msg === 'embedded ClickHouse engine process ended; the next request starts a new one'),
    'the engine crash is logged',
  );
  await waitFor('every offset committed', async () => (await committedTotal()) >= RECORDS, 180_000);
  const retried = logs.filter((l) => /insert/i.test(String(l.msg)) && l.level === 40).length;
  t.diagnostic(`${retried} insert warnings after the kill`);
  assert.equal(child.exitCode, null, 'agentwatch itself kept running');
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  agentwatch = undefined;
  await waitFor('the engine process to exit with agentwatch', () => exited(enginePids(logs)[1]!), 30_000);

  const client = await createClickHouseClient(stackConfig(overrides).clickhouse);
  try {
    assert.deepEqual(await auditRowCounts(client, TOPIC), [RECORDS, RECORDS]);
    for (let partition = 0; partition < PARTITIONS; partition += 1) {
      const report = await verifyPartition(client, { topic: TOPIC, partition });
      assert.deepEqual(
        [report.ok, report.rowsChecked],
        [true, RECORDS / PARTITIONS],
        `partition ${partition}: ${JSON.stringify(report.problem)}`,
      );
    }
  } finally {
    await client.close();
  }
});

test('agentwatch SIGKILLed: its engine process closes the store and exits, and the next start opens it', async () => {
  const { child, logs } = start();
  agentwatch = child;
  await waitFor('the engine process', () => enginePids(logs).length === 1, 60_000);
  const [engine] = enginePids(logs);
  child.kill('SIGKILL');
  await once(child, 'exit');
  agentwatch = undefined;
  await waitFor('the orphaned engine process to exit', () => exited(engine!), 30_000);

  const client = await createClickHouseClient(stackConfig(overrides).clickhouse);
  try {
    const [counts] = await (
      await client.query({
        query: 'SELECT count() AS rows FROM audit_events WHERE topic = {topic:String}',
        query_params: { topic: TOPIC },
        format: 'JSONEachRow',
      })
    ).json<{ rows: string }>();
    assert.equal(Number(counts!.rows), RECORDS, 'the store opens with every row');
  } finally {
    await client.close();
  }
});

test('a request the engine does not answer in time, or cannot be sent, fails at once; the next one is served', async () => {
  const impatient = await createClickHouseClient(
    stackConfig({ ...overrides, CLICKHOUSE_REQUEST_TIMEOUT_MS: '1000' }).clickhouse,
  );
  const patient = await createClickHouseClient(stackConfig(overrides).clickhouse); // the same engine process
  try {
    const started = Date.now();
    await assert.rejects(
      impatient.query({ query: 'SELECT sleepEachRow(1) FROM numbers(3)', format: 'JSONEachRow' }),
      (err: Error & { code?: string }) => err.code === 'ETIMEDOUT' && /did not answer within 1000 ms/.test(err.message),
    );
    assert.ok(Date.now() - started < 2_900, 'abandoned at the time limit, not when the engine finished');
    // structured clone cannot copy a function: refused, not left waiting
    await assert.rejects(
      impatient.query({ query: 'SELECT {x:UInt8} AS x', query_params: { x: () => 1 }, format: 'JSONEachRow' }),
    );
    // the engine goes on (once it finished the abandoned query, which it runs to its end)
    const rows = await (await patient.query({ query: 'SELECT 1 AS ok', format: 'JSONEachRow' })).json();
    assert.deepEqual(rows, [{ ok: 1 }]);
  } finally {
    await impatient.close();
    await patient.close();
  }
});
