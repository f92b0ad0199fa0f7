// INGEST_FROM_BEGINNING=false starts at the end of partitions never read, and that start holds: a
// first run that read nothing (or crashed before its first commit) must not move it. Records
// produced while agentwatch was down are read at the next start; the records from before the first
// start are not. (Left to kafkajs, "latest" was resolved again at every start until a first commit,
// so the records produced in between were never audited, and a chain head recorded by a run that
// crashed before inserting its rows pointed at records no run would read.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifyPartition } from '../../src/audit/index.js';
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
const TOPIC = `agent.tasks.latest-${run}`;
const overrides = isolatedOverrides(run, { INGEST_FROM_BEGINNING: 'false' });
const kafka = testKafka();

async function produce(from: number, count: number): Promise<void> {
  const producer = await connectedProducer(kafka);
  await producer.send({
    topic: TOPIC,
    messages: Array.from({ length: count }, (_, i) => ({
      key: `wf-${from + i}`,
      value: JSON.stringify({ workflow_id: `wf-${from + i}`, task_type: `latest-${run}`, task_id: `t-${from + i}` }),
    })),
  });
  await producer.disconnect();
}

test('records produced while agentwatch was down after a first start that read nothing are audited', async () => {
  await createTopics(kafka, [{ topic: TOPIC, numPartitions: 1 }]);
  await produce(0, 5); // before the first start: not to be read
  const first = await startService(overrides, []);
  try {
    // Its start is committed although it read nothing.
    const admin = kafka.admin();
    await admin.connect();
    try {
      await waitFor(
        'the start committed',
        async () =>
          (await admin.fetchOffsets({ groupId: overrides.KAFKA_GROUP_ID!, topics: [TOPIC] }))[0]?.partitions[0]
            ?.offset === '5',
        30_000,
      );
    } finally {
      await admin.disconnect();
    }
  } finally {
    await first.stop();
  }
  await produce(5, 3); // while agentwatch is down

  const second = await startService(overrides, []);
  try {
    await waitFor('the 3 records produced while down', () => second.stats().audit.rowsWritten >= 3, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(second.stats().audit.rowsWritten, 3, 'not the records from before the first start');
    const report = await verifyPartition(second.clickhouse, { topic: TOPIC, partition: 0 });
    assert.deepEqual([report.ok, report.firstOffset, report.lastOffset], [true, '5', '7'], JSON.stringify(report));
  } finally {
    await second.stop();
  }
});
