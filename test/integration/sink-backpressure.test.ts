// Offsets are committed only after every sink accepted the events: a sink that blocks holds the
// commit (and consumption) back, and a sink that fails is retried until it accepts; nothing is skipped.
// The faults are injected by wrapping the collecting sink, not by replacing Kafka.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { CorrelatedBatch } from '../../src/correlate/index.js';
import type { Service } from '../../src/service.js';
import {
  CollectingSink,
  connectedProducer,
  createTopics,
  isolatedOverrides,
  runId,
  startService,
  testKafka,
  waitFor,
} from './harness.js';

const kafka = testKafka();
const services: Service[] = [];
after(async () => {
  for (const s of services) await s.stop();
});

async function committedOffset(groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const offset = entry?.partitions[0]?.offset ?? '-1';
    return offset === '-1' ? 0 : Number(offset);
  } finally {
    await admin.disconnect();
  }
}

async function produce(topic: string, count: number): Promise<void> {
  const producer = await connectedProducer(kafka);
  await producer.send({
    topic,
    messages: Array.from({ length: count }, (_, i) => ({
      key: 'wf',
      value: JSON.stringify({ workflow_id: 'wf', task_type: 'bp', task_id: `t${i}`, payload: {} }),
    })),
  });
  await producer.disconnect();
}

test('a blocked sink holds the commit back until it accepts', async () => {
  const run = runId();
  const topic = `agent.tasks.blocked-${run}`;
  await createTopics(kafka, [{ topic, numPartitions: 1 }]);
  await produce(topic, 50);
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const inner = new CollectingSink();
  let offered = 0;
  const blocking = {
    name: 'blocking',
    close: async () => {},
    accept: async (batch: CorrelatedBatch) => {
      offered += batch.events.length;
      await released;
      await inner.accept(batch);
    },
  };
  const overrides = isolatedOverrides(run);
  services.push(await startService(overrides, [blocking]));

  await waitFor('the batch to reach the blocked sink', () => offered > 0, 30_000);
  assert.equal(
    await committedOffset(overrides.KAFKA_GROUP_ID!, topic),
    0,
    'nothing is committed while the sink has not accepted',
  );
  assert.equal(inner.events.length, 0);
  release();
  await waitFor(
    'the commit after the sink accepted',
    async () => (await committedOffset(overrides.KAFKA_GROUP_ID!, topic)) === 50,
    30_000,
  );
  assert.equal(inner.events.length, 50);
  await services.pop()!.stop(); // the embedded engine opens one data directory per process
});

test('a failing sink is retried with backoff until it accepts; every event arrives', async () => {
  const run = runId();
  const topic = `agent.tasks.flaky-${run}`;
  await createTopics(kafka, [{ topic, numPartitions: 1 }]);
  await produce(topic, 50);
  const inner = new CollectingSink();
  let failures = 0;
  const flaky = {
    name: 'flaky',
    close: async () => {},
    accept: async (batch: CorrelatedBatch) => {
      if (failures < 3) {
        failures += 1;
        throw new Error(`ClickHouse refused (injected failure ${failures})`);
      }
      await inner.accept(batch);
    },
  };
  const overrides = isolatedOverrides(run);
  const service = await startService(overrides, [flaky]);
  services.push(service);
  await waitFor('all events after the failures', () => inner.events.length >= 50, 30_000);
  await waitFor('the commit', async () => (await committedOffset(overrides.KAFKA_GROUP_ID!, topic)) === 50, 30_000);
  assert.equal(failures, 3);
  assert.equal(inner.events.length, 50, 'each event once: the failed attempts delivered nothing');
  assert.equal(service.stats().pipeline.retries, 3);
});
