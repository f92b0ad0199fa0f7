// Records deleted by Kafka's retention before agentwatch read them (it was down longer than the
// topic's retention): the committed offset lies below the partition's log start.
// - Where retention deleted the whole backlog, the partition has nothing left to deliver. Counted as
//   backlogged, it held event time back for good: no task timed out and no window closed, on any
//   agent, until that partition's producer wrote again.
// - Where some of it is still retained, every retained record is read, also with
//   INGEST_FROM_BEGINNING=false (kafkajs, left to itself, resets an out-of-range offset to the
//   partition's end in that mode and skipped them).
// Both are said in a warning naming the partition and how many records were lost.
// - Where retention overtakes agentwatch while it runs (it lags), kafkajs resets the out-of-range
//   offset itself: to the earliest retained one, never to the end, whatever INGEST_FROM_BEGINNING.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CorrelatedBatch, EventSink } from '../../src/correlate/index.js';
import {
  connectedProducer,
  createTopics,
  isolatedOverrides,
  runId,
  startService,
  testKafka,
  waitFor,
} from './harness.js';

const kafka = testKafka();

async function produce(topic: string, from: number, count: number): Promise<void> {
  const producer = await connectedProducer(kafka);
  await producer.send({
    topic,
    messages: Array.from({ length: count }, (_, i) => ({
      key: `wf-${from + i}`,
      value: JSON.stringify({
        workflow_id: `wf-${from + i}`,
        task_type: 'retention',
        task_id: `t-${topic}-${from + i}`,
      }),
    })),
  });
  await producer.disconnect();
}

async function deleteUpTo(topic: string, offset: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.fetchTopicMetadata({ topics: [topic] }); // deleteTopicRecords needs it loaded
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: String(offset) }] });
  } finally {
    await admin.disconnect();
  }
}

for (const fromBeginning of ['true', 'false']) {
  test(`a backlog lost to retention, whole or in part, neither freezes event time nor skips what is retained (INGEST_FROM_BEGINNING=${fromBeginning})`, async () => {
    const run = runId();
    const gone = `agent.tasks.gone-${run}`; // its whole backlog deleted
    const part = `agent.tasks.part-${run}`; // part of its backlog deleted
    const fresh = `agent.tasks.fresh-${run}`; // three tasks nobody answers, produced while agentwatch is down
    await createTopics(
      kafka,
      [gone, part, fresh].map((topic) => ({ topic, numPartitions: 1 })),
    );
    const overrides = isolatedOverrides(run, {
      INGEST_FROM_BEGINNING: fromBeginning,
      CORRELATE_TASK_TTL_MS: '1000',
      EVENT_TIME_IDLE_MS: '1000',
    });

    const first = await startService(overrides, []);
    try {
      for (const topic of [gone, part, fresh]) await produce(topic, 0, 1); // after the start: read in both modes
      await waitFor('the first three records audited', () => first.stats().audit.rowsWritten >= 3, 60_000);
      await waitFor('their offsets committed', () => first.stats().tap.pendingRecords === 0, 30_000);
    } finally {
      await first.stop();
    }

    // While agentwatch is down: backlogs, then retention deletes all of one and part of another.
    await produce(gone, 1, 4);
    await deleteUpTo(gone, 5);
    await produce(part, 1, 4);
    await deleteUpTo(part, 3); // offsets 3 and 4 are still retained
    await produce(fresh, 1, 3);

    const second = await startService(overrides, []);
    try {
      await waitFor(
        'the unanswered tasks time out (event time moves on)',
        () => second.stats().correlator.timeouts >= 3,
        60_000,
      ).catch(() => assert.fail(`timeouts ${second.stats().correlator.timeouts}: event time did not move`));
      await waitFor('the retained records audited', () => second.stats().audit.rowsWritten >= 5, 30_000).catch(() =>
        assert.fail(`${second.stats().audit.rowsWritten} rows: the two retained records of ${part} were skipped`),
      );
      // Counted (agentwatch_ingest_offsets_lost_total): 4 offsets of `gone` and 2 of `part`.
      assert.equal(second.stats().tap.offsetsLost, 6);
      // Committed at the log start (or past it), not at the -1 or -2 kafkajs commits after an
      // out-of-range fetch: a later restart must not take `gone` for never read, nor warn again.
      const admin = kafka.admin();
      await admin.connect();
      try {
        for (const topic of [gone, part]) {
          const [end] = await admin.fetchTopicOffsets(topic);
          let last = '';
          await waitFor(
            `the committed offset of ${topic} at its end`,
            async () =>
              (last = (await admin.fetchOffsets({ groupId: overrides.KAFKA_GROUP_ID!, topics: [topic] }))[0]!
                .partitions[0]!.offset) === end!.high,
            30_000,
          ).catch(() => assert.fail(`${topic}: committed ${last}, high watermark ${end!.high}`));
        }
      } finally {
        await admin.disconnect();
      }
    } finally {
      await second.stop();
    }
  });
}

test('retention overtaking a running consumer does not skip the records still retained (INGEST_FROM_BEGINNING=false)', async () => {
  const run = runId();
  const topic = `agent.tasks.overtaken-${run}`;
  await createTopics(kafka, [{ topic, numPartitions: 1 }]);
  // The first batch is held in a sink, and with at most one record pending the tap fetches nothing
  // more meanwhile: agentwatch lags at offset 1 while retention deletes up to offset 3.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let offered = 0;
  const holding: EventSink = {
    name: 'holding',
    close: async () => {},
    accept: async (batch: CorrelatedBatch) => {
      offered += batch.events.length;
      await released;
    },
  };
  const service = await startService(
    isolatedOverrides(run, { INGEST_FROM_BEGINNING: 'false', INGEST_MAX_PENDING_RECORDS: '1' }),
    [holding],
  );
  try {
    await produce(topic, 0, 1);
    await waitFor('the first record held in the sink', () => offered >= 1, 30_000);
    await produce(topic, 1, 4);
    await deleteUpTo(topic, 3); // offsets 3 and 4 are still retained
    release();
    // kafkajs's next fetch, at offset 1, is out of range. Reset to the end, it skipped offsets 3 and 4.
    await waitFor('the retained records audited', () => service.stats().audit.rowsWritten >= 3, 30_000).catch(() =>
      assert.fail(`${service.stats().audit.rowsWritten} rows: the records still retained were skipped`),
    );
    // kafkajs only logs its reset; agentwatch counts what was lost: offsets 1 and 2.
    await waitFor('the lost offsets counted', () => service.stats().tap.offsetsLost === 2, 10_000).catch(() =>
      assert.fail(`${service.stats().tap.offsetsLost} offsets counted as lost, not 2`),
    );
  } finally {
    await service.stop();
  }
});
