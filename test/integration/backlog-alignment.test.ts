// Reading a backlog where the tasks topic is read much faster than the results topic (small tasks,
// large results, few bytes per fetch): the tasks partition runs ahead of event time and is paused
// until the results catch up (EVENT_TIME_ALIGN_MS), so tasks waiting for their answers stay few,
// none is evicted, and every task gets its latency. Without alignment the same backlog would hold
// all 3,000 tasks in flight at once (more than CORRELATE_MAX_INFLIGHT here: 1,900 evictions when measured with alignment off).

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
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

const run = runId();
const kafka = testKafka();
const TASKS = 3_000;
let service: Service | undefined;

after(async () => {
  await service?.stop();
});

test('a backlog read unevenly: the partition ahead waits, no task is evicted, every task is answered', async () => {
  const tasks = `agent.tasks.align-${run}`;
  const results = `agent.results.align-${run}`;
  await createTopics(kafka, [
    { topic: tasks, numPartitions: 1 },
    { topic: results, numPartitions: 1 },
  ]);
  const start = Date.now() - 2 * 3_600_000; // an hour of traffic, two hours ago: 1.2 s between tasks
  const producer = await connectedProducer(kafka);
  const big = 'x'.repeat(4_000);
  for (let from = 0; from < TASKS; from += 100) {
    const ids = Array.from({ length: 100 }, (_, i) => from + i);
    await producer.send({
      topic: tasks,
      messages: ids.map((i) => ({
        key: `wf-${i}`,
        timestamp: String(start + i * 1_200),
        value: JSON.stringify({ workflow_id: `wf-${i}`, task_type: 'align', task_id: `t-${i}`, payload: {} }),
      })),
    });
    await producer.send({
      topic: results,
      messages: ids.map((i) => ({
        key: `wf-${i}`,
        timestamp: String(start + i * 1_200 + 300),
        value: JSON.stringify({ workflow_id: `wf-${i}`, task_id: `t-${i}`, result: { text: big } }),
      })),
    });
  }
  await producer.disconnect();

  const sink = new CollectingSink();
  let mostInFlight = 0;
  let everHeld = false;
  service = await startService(
    isolatedOverrides(run, {
      INGEST_MAX_BYTES_PER_PARTITION: '65536',
      EVENT_TIME_ALIGN_MS: '60000',
      CORRELATE_MAX_INFLIGHT: '1000',
      INGEST_PARTITIONS_CONCURRENTLY: '2',
    }),
    [sink],
  );
  const watch = setInterval(() => {
    const stats = service!.stats();
    mostInFlight = Math.max(mostInFlight, stats.correlator.inFlight);
    everHeld ||= stats.tap.held > 0;
  }, 5);
  try {
    await waitFor('every record read', () => sink.events.length === 2 * TASKS, 120_000);
  } finally {
    clearInterval(watch);
  }
  const stats = service.stats();
  assert.equal(stats.correlator.evictions, 0, 'no task evicted unanswered');
  assert.equal(stats.correlator.answered, TASKS, 'every task answered');
  assert.ok(everHeld, 'the tasks partition was held back at least once');
  // 60 s of event time is 50 tasks; a partition is held after the batch that took it past that, and one 64 KB fetch holds ~600 tasks.
  assert.ok(mostInFlight <= 800, `at most ${mostInFlight} tasks in flight`);
});
