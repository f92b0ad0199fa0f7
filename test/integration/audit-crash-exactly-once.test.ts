// The audit store, end to end on the real broker and the embedded ClickHouse engine:
// 100,000 records through a real `agentwatch run`, SIGKILLed midway and restarted, leave exactly
// 100,000 audit rows and every partition's chain verifies. Then a row altered directly in ClickHouse
// is reported at its offset, a deleted row as a gap, and a truncated tail (invisible to the chain
// alone) by the checkpoints published to Kafka, all through `agentwatch verify`. A store rewritten
// with a consistently recomputed chain passes `verify` but not `verify --against-kafka`, which
// recomputes the rows from the records in Kafka; nor does a chain-consistent row forged past the tail.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  appendAuditRow,
  createClickHouseClient,
  insertRowBinary,
  RowBinaryWriter,
  storedRows,
  verifyPartition,
  type ClickHouseClient,
} from '../../src/audit/index.js';
import { INSERT_COLUMNS } from '../../src/audit/audit-row.js';
import {
  auditRowCounts,
  connectedProducer,
  createTopics,
  isolatedOverrides,
  recordsInEventsFile,
  runAgentwatch,
  runId,
  spawnAgentwatch,
  testKafka,
  waitFor,
} from './harness.js';
import { stackConfig } from '../../bench/local-stack.js';

const run = runId();
const TOPIC = `agent.tasks.audit-${run}`;
const PARTITIONS = 4;
const RECORDS = 100_000;
const dir = mkdtempSync(join(tmpdir(), `aw-audit-${run}-`));
const eventsFile = join(dir, 'events.ndjson');
const overrides = isolatedOverrides(run, {
  CLICKHOUSE_DATA_DIR: join(dir, 'clickhouse'),
  CHECKPOINTS_TOPIC: `agentwatch-test.checkpoints.${run}`,
  CHECKPOINT_INTERVAL_MS: '500',
  EVENTS_FILE: eventsFile,
  KAFKA_SESSION_TIMEOUT_MS: '6000',
  AUDIT_REDACT_PATHS: 'payload.secret',
  LOG_LEVEL: 'warn',
});
const kafka = testKafka();
let child: ChildProcess | undefined;

after(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Distinct offsets in the events file (the progress signal; the ClickHouse directory is the child's while it runs). */
function verify(...args: string[]): { code: number | null; reports: Array<Record<string, unknown>> } {
  const result = runAgentwatch(['verify', ...args], overrides);
  return {
    code: result.status,
    reports: result.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('SIGKILL midway and restart: exactly 100,000 audit rows, every chain verifies; tampering is found', async () => {
  await createTopics(kafka, [{ topic: TOPIC, numPartitions: PARTITIONS }]);
  const producer = await connectedProducer(kafka);
  for (let start = 0; start < RECORDS; start += 2_000) {
    await producer.send({
      topic: TOPIC,
      messages: Array.from({ length: 2_000 }, (_, j) => {
        const i = start + j;
        return {
          key: `wf-${i % 1000}`,
          partition: i % PARTITIONS,
          value: JSON.stringify({
            workflow_id: `wf-${i % 1000}`,
            task_type: 'audit',
            task_id: `t-${i}`,
            payload: { i, secret: `s-${i}` },
          }),
        };
      }),
    });
  }
  await producer.disconnect();

  child = spawnAgentwatch(['run'], overrides);
  await waitFor('a third of the records in flight', () => recordsInEventsFile(eventsFile) >= 30_000, 120_000);
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(recordsInEventsFile(eventsFile) < RECORDS, 'killed midway');

  child = spawnAgentwatch(['run'], overrides);
  await waitFor('every record after the restart', () => recordsInEventsFile(eventsFile) >= RECORDS, 180_000);
  child.kill('SIGTERM'); // a clean stop flushes the writer and publishes the last checkpoints
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  child = undefined;

  const client = await createClickHouseClient(stackConfig(overrides).clickhouse);
  try {
    assert.deepEqual(
      await auditRowCounts(client, TOPIC),
      [RECORDS, RECORDS],
      'exactly once: no record missing, none twice',
    );
    const [secrets] = await (
      await client.query({
        query: "SELECT countIf(payload LIKE '%s-1%') AS leaked FROM audit_events",
        format: 'JSONEachRow',
      })
    ).json<{ leaked: string }>();
    assert.equal(Number(secrets!.leaked), 0, 'redacted paths are not stored');
    for (let p = 0; p < PARTITIONS; p += 1) {
      const report = await verifyPartition(client, { topic: TOPIC, partition: p });
      assert.deepEqual(
        [report.ok, report.rowsChecked, report.startsAfter],
        [true, RECORDS / PARTITIONS, null],
        `partition ${p}: ${JSON.stringify(report.problem)}`,
      );
    }
  } finally {
    await client.close();
  }

  const clean = verify('--checkpoints');
  assert.equal(clean.code, 0, JSON.stringify(clean.reports));
  assert.ok(Number(clean.reports.at(-1)!.checkpoints) >= PARTITIONS, 'checkpoints were published');

  // Tampering, directly in ClickHouse.
  const tamper = await createClickHouseClient(stackConfig(overrides).clickhouse);
  try {
    await tamper.command({
      query: `ALTER TABLE audit_events UPDATE payload = '{"forged":true}' WHERE topic = '${TOPIC}' AND partition = 0 AND offset = 500 SETTINGS mutations_sync = 1`,
    });
    await tamper.command({
      query: `ALTER TABLE audit_events DELETE WHERE topic = '${TOPIC}' AND partition = 1 AND offset = 700 SETTINGS mutations_sync = 1`,
    });
    await tamper.command({
      query: `ALTER TABLE audit_events DELETE WHERE topic = '${TOPIC}' AND partition = 2 AND offset = ${RECORDS / PARTITIONS - 1} SETTINGS mutations_sync = 1`,
    });
  } finally {
    await tamper.close();
  }
  const altered = verify('--topic', TOPIC, '--partition', '0');
  assert.equal(altered.code, 1);
  assert.deepEqual(
    [
      (altered.reports[0]!.problem as { kind: string; offset: string }).kind,
      (altered.reports[0]!.problem as { offset: string }).offset,
    ],
    ['altered', '500'],
  );
  const deleted = verify('--topic', TOPIC, '--partition', '1');
  assert.deepEqual(
    [
      (deleted.reports[0]!.problem as { kind: string }).kind,
      (deleted.reports[0]!.problem as { offset: string }).offset,
    ],
    ['gap', '700'],
  );
  const truncated = verify('--topic', TOPIC, '--partition', '2', '--checkpoints');
  assert.equal(truncated.reports[0]!.ok, true, 'the chain alone cannot see a truncated tail');
  const checkpointProblem = truncated.reports[1]!.problem as { kind: string; offset: string };
  assert.deepEqual(
    [checkpointProblem.kind, checkpointProblem.offset],
    ['checkpoint', String(RECORDS / PARTITIONS - 1)],
  );
  assert.equal(truncated.code, 1);

  // Proof against the source, on partition 3 (untouched so far).
  const last = RECORDS / PARTITIONS - 1;
  const clean3 = verify('--topic', TOPIC, '--partition', '3', '--against-kafka');
  assert.equal(clean3.code, 0, JSON.stringify(clean3.reports));
  assert.deepEqual(
    [clean3.reports[1]!.againstKafka, clean3.reports[1]!.compared, clean3.reports[1]!.ok],
    [true, RECORDS / PARTITIONS, true],
  );
  // A consistent rewrite: the payload of row last-9 changed, and the chain recomputed from there on.
  const forger = await createClickHouseClient(stackConfig(overrides).clickhouse);
  try {
    await rewriteFrom(forger, last - 9, '{"rewritten":true}');
  } finally {
    await forger.close();
  }
  const rewritten = verify('--topic', TOPIC, '--partition', '3', '--against-kafka');
  assert.equal(rewritten.reports[0]!.ok, true, 'the chain alone cannot see a consistent rewrite');
  assert.deepEqual(
    [rewritten.reports[1]!.ok, (rewritten.reports[1]!.problem as { kind: string; offset: string }).offset],
    [false, String(last - 9)],
  );
  assert.equal(rewritten.code, 1);
  // A chain-consistent row forged past the tail (the next offset Kafka would assign).
  const forger2 = await createClickHouseClient(stackConfig(overrides).clickhouse);
  try {
    await forgeAfterTail(forger2, 1);
  } finally {
    await forger2.close();
  }
  const pastTail = verify('--topic', TOPIC, '--partition', '1', '--from', '701', '--against-kafka');
  const beyond = pastTail.reports.find((r) => r.againstKafka === true)!;
  assert.equal(pastTail.reports[0]!.ok, true, 'the chain alone cannot see it');
  assert.deepEqual(
    [beyond.ok, (beyond.problem as { offset: string }).offset],
    [false, String(RECORDS / PARTITIONS)],
    JSON.stringify(beyond),
  );
});

/** Rewrites partition 3 from `offset` on: that row's payload replaced, every hash from there recomputed. */
async function rewriteFrom(client: ClickHouseClient, offset: number, payload: string): Promise<void> {
  const rows = [];
  for await (const row of storedRows(client, { topic: TOPIC, partition: 3, fromOffset: String(offset - 1) }))
    rows.push(row);
  const out = new RowBinaryWriter();
  let prevHash = rows[0]!.hash;
  for (const row of rows.slice(1)) {
    const values = row.values.offset === String(offset) ? { ...row.values, payload } : row.values;
    prevHash = appendAuditRow(out, values, prevHash);
    out.length -= 8;
    out.int64(Date.now());
  }
  await client.command({
    query: `ALTER TABLE audit_events DELETE WHERE topic = '${TOPIC}' AND partition = 3 AND offset >= ${offset} SETTINGS mutations_sync = 1`,
  });
  await insertRowBinary(client, 'audit_events', INSERT_COLUMNS, Buffer.from(out.bytes()));
}

/** Appends a chain-consistent row after the tail of `partition`, at the next offset. */
async function forgeAfterTail(client: ClickHouseClient, partition: number): Promise<void> {
  let tail;
  for await (const row of storedRows(client, { topic: TOPIC, partition, fromOffset: String(RECORDS / PARTITIONS - 1) }))
    tail = row;
  const out = new RowBinaryWriter();
  appendAuditRow(
    out,
    {
      ...tail!.values,
      offset: String(RECORDS / PARTITIONS),
      prev_offset: tail!.values.offset,
      payload: '{"forged":true}',
    },
    tail!.hash,
  );
  out.length -= 8;
  out.int64(Date.now());
  await insertRowBinary(client, 'audit_events', INSERT_COLUMNS, Buffer.from(out.bytes()));
}
