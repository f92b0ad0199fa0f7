// Poison records cannot wedge ingestion through the dead-letter topic's size limit (issue: one value
// over the payload limit, or ~1 MB of small undecodable records in one batch, made the DLQ produce
// request exceed max.message.bytes; it was retried forever and every partition stopped).
// On the real broker: the DLQ topic keeps Kafka's default limit (1,048,588 bytes); the agent topic
// allows larger records, as a producer's topic may.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { DLQ_HEADERS } from '../../src/ingest/index.js';
import type { Service } from '../../src/service.js';
import {
  CollectingSink,
  createTopics,
  connectedProducer,
  isolatedOverrides,
  runId,
  startService,
  testKafka,
  waitFor,
} from './harness.js';

const run = runId();
const kafka = testKafka();
const sink = new CollectingSink();
const poisoned = `agent.tasks.poison-${run}`;
const other = `agent.tasks.clean-${run}`;
const PAYLOAD_LIMIT = 1_048_576; // INGEST_MAX_PAYLOAD_BYTES's default
const SMALL_BAD = 1_500;
const GOOD_PER_PARTITION = 200;
let service: Service;

before(async () => {
  await createTopics(kafka, [
    { topic: poisoned, numPartitions: 2, configEntries: [{ name: 'max.message.bytes', value: '4194304' }] },
    { topic: other, numPartitions: 1 },
  ]);
  service = await startService(isolatedOverrides(run), [sink]);
});

after(async () => {
  await service?.stop();
});

const task = (i: number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id: `t-${i}`,
    method: 'message/send',
    params: {
      message: { role: 'user', messageId: `m-${i}`, parts: [{ kind: 'text', text: 'hello' }] },
      metadata: { workflow_id: `wf-${i}`, task_id: `t-${i}` },
    },
  });

test('a value over the payload limit and 1,500 undecodable records on one partition: every other partition goes on, the bad one resumes, every record is accounted for', async () => {
  const producer = await connectedProducer(kafka);
  const huge = Buffer.alloc(PAYLOAD_LIMIT + 1, 0x61); // 'aaaa…': one byte over the limit
  const smallBad = Array.from({ length: SMALL_BAD }, (_, i) => ({
    key: `bad-${i}`,
    value: `{not json ${i} `.padEnd(900, 'x'),
    partition: 0,
  }));
  try {
    await producer.send({ topic: poisoned, messages: [{ key: 'huge', value: huge, partition: 0 }] });
    for (let i = 0; i < smallBad.length; i += 500)
      await producer.send({ topic: poisoned, messages: smallBad.slice(i, i + 500) });
    // The good traffic comes after the poison, on the other partition and on another topic.
    await producer.send({
      topic: poisoned,
      messages: Array.from({ length: GOOD_PER_PARTITION }, (_, i) => ({
        key: `wf-${i}`,
        value: task(i),
        partition: 1,
      })),
    });
    await producer.send({
      topic: other,
      messages: Array.from({ length: GOOD_PER_PARTITION }, (_, i) => ({ key: `wf-${i}`, value: task(i) })),
    });
  } finally {
    await producer.disconnect();
  }

  const count = (topic: string, partition: number) =>
    sink.events.filter((e) => e.topic === topic && e.partition === partition).length;
  await waitFor(
    'the good records on the other partitions',
    () => count(poisoned, 1) === GOOD_PER_PARTITION && count(other, 0) === GOOD_PER_PARTITION,
    60_000,
  );
  await waitFor('the poisoned partition, resumed', () => count(poisoned, 0) === SMALL_BAD + 1, 60_000);
  await waitFor(
    'every record in the audit store',
    () => service.stats().audit.rowsWritten === SMALL_BAD + 1 + 2 * GOOD_PER_PARTITION,
    30_000,
  );
  assert.deepEqual(service.pipelineStalls(), [], 'no partition left stuck');

  // Every dead record has a DLQ copy or a reference, once.
  const consumer = kafka.consumer({ groupId: `dlq-reader-${run}` });
  const copies = new Map<string, { reference: string | undefined; value: Buffer | null; reason: string | undefined }>();
  await consumer.connect();
  await consumer.subscribe({ topics: [`agentwatch.dlq.${run}`], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const header = (name: string) => message.headers?.[name]?.toString();
      copies.set(`${header(DLQ_HEADERS.topic)}:${header(DLQ_HEADERS.partition)}:${header(DLQ_HEADERS.offset)}`, {
        reference: header(DLQ_HEADERS.reference),
        value: message.value,
        reason: header(DLQ_HEADERS.reason),
      });
    },
  });
  try {
    await waitFor('every DLQ copy', () => copies.size === SMALL_BAD + 1, 30_000);
  } finally {
    await consumer.disconnect();
  }
  const hugeCopy = copies.get(`${poisoned}:0:0`)!;
  assert.equal(hugeCopy.reference, 'too-large', 'the oversized value is referenced, not copied');
  assert.equal(hugeCopy.reason, 'oversized');
  const reference = JSON.parse(hugeCopy.value!.toString()) as { size: number; sha256: string; offset: string };
  assert.deepEqual(
    [reference.size, reference.sha256, reference.offset],
    [huge.length, createHash('sha256').update(huge).digest('hex'), '0'],
  );
  const small = [...copies.entries()].filter(([key]) => key !== `${poisoned}:0:0`);
  assert.ok(
    small.every(([, c]) => c.reference === undefined && c.reason === 'invalid-json' && c.value!.length === 900),
    'the small ones are full copies',
  );
  assert.ok(service.dlqStats().references >= 1);
});
