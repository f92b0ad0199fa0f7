// SIGKILL of a real agentwatch process mid-stream, then a restart: no committed offset passes an
// event the sink had not durably accepted, and every offset reaches the sink at least once.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  connectedProducer,
  createTopics,
  isolatedOverrides,
  runId,
  spawnAgentwatch,
  testKafka,
  waitFor,
} from './harness.js';

const run = runId();
const TOPIC = `agent.tasks.crash-${run}`;
const PARTITIONS = 2;
const RECORDS = 40_000;
const dir = mkdtempSync(join(tmpdir(), `aw-crash-${run}-`));
const eventsFile = join(dir, 'events.ndjson');
const overrides = isolatedOverrides(run, {
  EVENTS_FILE: eventsFile,
  // Small batches, one at a time, and small inserts: many fsync+insert+commit steps, so the kill
  // lands mid-stream with some offsets committed and some batches read past the last commit.
  INGEST_MAX_BYTES_PER_PARTITION: '16384',
  INGEST_PARTITIONS_CONCURRENTLY: '1',
  AUDIT_BATCH_ROWS: '500',
  INGEST_MAX_PENDING_RECORDS: '2000',
  // The restarted member waits for the killed one's session to expire before it gets the partitions.
  KAFKA_SESSION_TIMEOUT_MS: '6000',
  LOG_LEVEL: 'warn',
});
const kafka = testKafka();
let child: ChildProcess | undefined;

after(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function startAgentwatch(extra: Record<string, string> = {}): ChildProcess {
  return spawnAgentwatch(['run'], { ...overrides, ...extra });
}

/** (partition → offsets) of the events in the file; a line torn by the kill is skipped. */
function offsetsOnDisk(): { lines: number; byPartition: Map<number, Set<bigint>> } {
  const byPartition = new Map<number, Set<bigint>>();
  let lines = 0;
  if (!existsSync(eventsFile)) return { lines, byPartition };
  for (const line of readFileSync(eventsFile, 'utf8').split('\n')) {
    let parsed: { type: string; topic: string; partition: number; offset: string };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      continue;
    }
    if (parsed.type !== 'event' || parsed.topic !== TOPIC) continue;
    lines += 1;
    if (!byPartition.has(parsed.partition)) byPartition.set(parsed.partition, new Set());
    byPartition.get(parsed.partition)!.add(BigInt(parsed.offset));
  }
  return { lines, byPartition };
}

function distinct(disk: ReturnType<typeof offsetsOnDisk>): number {
  return [...disk.byPartition.values()].reduce((n, set) => n + set.size, 0);
}

test('SIGKILL mid-stream and restart: commits never pass the sink, and nothing is lost', async () => {
  await createTopics(kafka, [{ topic: TOPIC, numPartitions: PARTITIONS }]);
  const producer = await connectedProducer(kafka);
  for (let start = 0; start < RECORDS; start += 1_000) {
    await producer.send({
      topic: TOPIC,
      messages: Array.from({ length: 1_000 }, (_, j) => {
        const i = start + j;
        return {
          key: `wf-${i % 97}`,
          partition: i % PARTITIONS,
          value: JSON.stringify({ workflow_id: `wf-${i % 97}`, task_type: 'crash', task_id: `t-${i}`, payload: { i } }),
        };
      }),
    });
  }
  await producer.disconnect();

  child = startAgentwatch();
  await waitFor('a few thousand events on disk', () => offsetsOnDisk().lines >= 4_000, 60_000);
  child.kill('SIGKILL');
  await once(child, 'exit');
  const beforeRestart = offsetsOnDisk();
  assert.ok(
    distinct(beforeRestart) < RECORDS,
    `the kill came mid-stream (${distinct(beforeRestart)} of ${RECORDS} on disk)`,
  );

  const admin = kafka.admin();
  await admin.connect();
  const committed = await admin.fetchOffsets({ groupId: overrides.KAFKA_GROUP_ID!, topics: [TOPIC] });
  await admin.disconnect();
  const partitions = committed.find((c) => c.topic === TOPIC)?.partitions ?? [];
  let committedTotal = 0n;
  for (const { partition, offset } of partitions) {
    const upTo = offset === '-1' ? 0n : BigInt(offset);
    committedTotal += upTo;
    const onDisk = beforeRestart.byPartition.get(partition) ?? new Set<bigint>();
    for (let o = 0n; o < upTo; o += 1n) {
      assert.ok(onDisk.has(o), `partition ${partition}: offset ${o} is committed (up to ${upTo}) but not on disk`);
    }
  }
  assert.ok(committedTotal > 0n, 'some offsets were committed before the kill');

  // The restart reads the rest with ordinary batch sizes.
  child = startAgentwatch({
    INGEST_MAX_BYTES_PER_PARTITION: '1048576',
    INGEST_PARTITIONS_CONCURRENTLY: '4',
    AUDIT_BATCH_ROWS: '25000',
    INGEST_MAX_PENDING_RECORDS: '50000',
  });
  await waitFor('every offset on disk after the restart', () => distinct(offsetsOnDisk()) >= RECORDS, 120_000);
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, 'a clean stop after the restart');

  const afterRestart = offsetsOnDisk();
  for (let p = 0; p < PARTITIONS; p += 1) {
    const offsets = afterRestart.byPartition.get(p) ?? new Set<bigint>();
    assert.equal(offsets.size, RECORDS / PARTITIONS, `partition ${p} has every offset`);
    for (let o = 0n; o < BigInt(RECORDS / PARTITIONS); o += 1n) assert.ok(offsets.has(o), `partition ${p} offset ${o}`);
  }
  // At least once: records after the last commit before the kill were read again.
  process.stdout.write(
    `# crash test: ${distinct(beforeRestart)} on disk at the kill, ${committedTotal} committed, ${afterRestart.lines - RECORDS} read twice\n`,
  );
});
