// The tap reads on while its sinks still write (pipelining), and commits a batch's offsets only once
// the batch is durable and every earlier batch of its partition was committed: a batch that becomes
// durable early waits for the ones before it; one that is abandoned stops the partition's later
// commits (they are read again). Records read and not committed stay under INGEST_MAX_PENDING_RECORDS.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { AgentTap, createTopicFilter, type TapBatch } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { stackConfig } from '../../bench/local-stack.js';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import {
  connectedProducer,
  createTopics,
  isolatedOverrides,
  runId,
  testKafka,
  waitFor,
  withMethod,
} from './harness.js';

const run = runId();
const TOPIC = `agent.tasks.commits-${run}`;
const RECORDS = 400;
const kafka = testKafka();

interface Handed {
  batch: TapBatch;
  first: number;
  last: number;
  settle(): void;
  abandon(): void;
}

/** A tap whose handler hands every batch back at once and lets the test decide when it is durable. */
function tapWithControlledSinks(
  group: string,
  maxPendingRecords: number,
  client: Kafka = kafka,
  overrides: Record<string, string> = {},
): { tap: AgentTap; handed: Handed[]; flushes: { count: number } } {
  const config = stackConfig(
    isolatedOverrides(run, {
      ...overrides,
      KAFKA_GROUP_ID: group,
      // One or a few record batches of 10 records per read batch: many batches per partition.
      INGEST_MAX_BYTES_PER_PARTITION: '1024',
      INGEST_MAX_PENDING_RECORDS: String(maxPendingRecords),
    }),
  );
  const handed: Handed[] = [];
  const flushes = { count: 0 };
  const tap = new AgentTap(
    client,
    {
      groupId: config.kafka.groupId,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      startupTimeoutMs: config.kafka.startupTimeoutMs,
      ingest: config.ingest,
      filter: createTopicFilter(config.ingest, config.topics),
      handler: async (batch) => {
        let settle!: () => void;
        let abandon!: () => void;
        const durable = new Promise<void>((resolve, reject) => {
          settle = resolve;
          abandon = () => reject(new Error('abandoned (injected)'));
        });
        handed.push({
          batch,
          first: Number(batch.records[0]!.offset),
          last: Number(batch.records.at(-1)!.offset),
          settle,
          abandon,
        });
        return { durable };
      },
      flushNow: () => (flushes.count += 1),
    },
    createLogger('fatal'),
  );
  return { tap, handed, flushes };
}

async function committed(group: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [TOPIC] });
    return Number(offsets!.partitions[0]!.offset);
  } finally {
    await admin.disconnect();
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  await createTopics(kafka, [{ topic: TOPIC, numPartitions: 1 }]);
  const producer = await connectedProducer(kafka);
  // Ten records per send: the broker hands out whole record batches, so these are the read batches.
  for (let start = 0; start < RECORDS; start += 10) {
    await producer.send({
      topic: TOPIC,
      messages: Array.from({ length: 10 }, (_, j) => ({
        key: `wf-${start + j}`,
        value: JSON.stringify({ workflow_id: `wf-${start + j}`, task_type: 'x', task_id: `t-${start + j}` }),
      })),
    });
  }
  await producer.disconnect();
});

test('batches are handed over before the earlier ones are durable; commits follow offset order', async () => {
  const group = `agentwatch-test-${run}-order`;
  const { tap, handed } = tapWithControlledSinks(group, 1_000_000);
  await tap.start();
  try {
    await waitFor(
      'every record handed over without any batch durable',
      () => handed.at(-1)?.last === RECORDS - 1,
      30_000,
    );
    assert.ok(handed.length >= 3, `${handed.length} batches`);
    // The second batch becomes durable first: nothing may be committed, the first is not stored yet.
    handed[1]!.settle();
    await pause(500);
    assert.equal(await committed(group), -1, 'no commit while an earlier batch is not durable');
    handed[0]!.settle();
    await waitFor(
      'the first two batches committed',
      async () => (await committed(group)) === handed[1]!.last + 1,
      10_000,
    );
    for (const h of handed.slice(2)) h.settle();
    await waitFor('everything committed', async () => (await committed(group)) === RECORDS, 10_000);
    assert.equal(tap.stats().pendingRecords, 0);
  } finally {
    await tap.stop();
  }
});

test('an abandoned batch commits nothing, and neither do the later batches of its partition', async () => {
  const group = `agentwatch-test-${run}-abandon`;
  const { tap, handed } = tapWithControlledSinks(group, 1_000_000);
  await tap.start();
  try {
    await waitFor('every record handed over', () => handed.at(-1)?.last === RECORDS - 1, 30_000);
    handed[0]!.settle();
    await waitFor('the first batch committed', async () => (await committed(group)) === handed[0]!.last + 1, 10_000);
    handed[1]!.abandon();
    for (const h of handed.slice(2)) h.settle();
    await pause(1_000);
    assert.equal(await committed(group), handed[0]!.last + 1, 'the commit stays before the abandoned batch');
  } finally {
    await tap.stop();
  }
});

test('records read and not committed stay under INGEST_MAX_PENDING_RECORDS; the tap asks the sinks to write meanwhile', async () => {
  const group = `agentwatch-test-${run}-bound`;
  const BOUND = 50;
  const { tap, handed, flushes } = tapWithControlledSinks(group, BOUND);
  await tap.start();
  try {
    await waitFor('the bound reached', () => handed.reduce((n, h) => n + h.batch.records.length, 0) >= BOUND, 30_000);
    await pause(1_000);
    const held = handed.reduce((n, h) => n + h.batch.records.length, 0);
    assert.ok(
      held < BOUND + 20,
      `${held} records handed over with none durable (bound ${BOUND}, one batch over at most)`,
    );
    assert.ok(flushes.count >= 1, 'the sinks were asked to write while the tap waited');
    // Settling what was handed lets the tap read on, until everything is committed.
    let settled = 0;
    await waitFor(
      'everything committed',
      async () => {
        for (const h of handed.slice(settled)) h.settle();
        settled = handed.length;
        return (await committed(group)) === RECORDS;
      },
      30_000,
    );
    assert.ok(tap.stats().pendingWaits >= 1);
  } finally {
    await tap.stop();
  }
});

test('stop drains: the batches handed over are committed once durable, before the tap leaves its group', async () => {
  const group = `agentwatch-test-${run}-drain`;
  const { tap, handed } = tapWithControlledSinks(group, 1_000_000);
  await tap.start();
  await waitFor('every record handed over', () => handed.at(-1)?.last === RECORDS - 1, 30_000);
  const stopped = tap.stop();
  await pause(200);
  for (const h of handed) h.settle();
  await stopped;
  assert.equal(await committed(group), RECORDS);
});

test("a commit the broker refuses does not stop the partition: the next batch's commit covers it", async () => {
  const group = `agentwatch-test-${run}-refused`;
  let refusals = 1;
  // The real client, whose consumers refuse their first commit (the coordinator away for a moment).
  const refusing = withMethod(kafka, 'consumer', (real, config) =>
    withMethod(real.consumer(config), 'commitOffsets', async (consumer: Consumer, offsets) => {
      if (refusals > 0) {
        refusals -= 1;
        throw new Error('The coordinator is not available (injected)');
      }
      return consumer.commitOffsets(offsets);
    }),
  );
  const { tap, handed } = tapWithControlledSinks(group, 1_000_000, refusing);
  await tap.start();
  try {
    await waitFor('every record handed over', () => handed.at(-1)?.last === RECORDS - 1, 30_000);
    handed[0]!.settle();
    await pause(500);
    assert.equal(await committed(group), -1, 'the first commit was refused');
    for (const h of handed.slice(1)) h.settle();
    await waitFor('everything committed', async () => (await committed(group)) === RECORDS, 10_000);
  } finally {
    await tap.stop();
  }
});

test('reading where the partitions start is tried again after a failure: INGEST_FROM_BEGINNING=false still starts at the end', async () => {
  const group = `agentwatch-test-${run}-settle-retry`;
  let failures = 1;
  // The real client, whose admin fails its first offsets request. On a broker with 1,600 topics,
  // kafkajs's metadata lock timed out there once, and the tap read every topic from its beginning.
  const flaky = withMethod(kafka, 'admin', (real, config) =>
    withMethod(real.admin(config), 'fetchTopicOffsets', async (admin: Admin, topic) => {
      if (failures > 0) {
        failures -= 1;
        throw new Error('Timeout while acquiring lock (injected): "updating target topics"');
      }
      return admin.fetchTopicOffsets(topic);
    }),
  );
  const { tap, handed } = tapWithControlledSinks(group, 1_000_000, flaky, { INGEST_FROM_BEGINNING: 'false' });
  await tap.start();
  try {
    await waitFor(
      'the start pinned at the end and committed',
      async () => (await committed(group)) === RECORDS,
      15_000,
    );
    await pause(1_000);
    assert.equal(failures, 0, 'the injected failure happened');
    assert.deepEqual(
      handed.map((h) => h.first),
      [],
      'no record produced before the group started was read',
    );
  } finally {
    for (const h of handed) h.settle(); // so that stop, which drains, does not wait on them
    await tap.stop();
  }
});
