// A topic created while agentwatch runs is tapped within the refresh interval; a topic that does not
// match the pattern is not. (Leaving out agentwatch's own topics, which the default pattern matches,
// is the topic filter's: test/unit/ingest/topic-filter.test.ts. This test's isolated pattern cannot
// match its DLQ.)

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
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
const sink = new CollectingSink();
let service: Service;
const REFRESH_MS = 1_000;

before(async () => {
  await createTopics(kafka, [{ topic: `agent.tasks.first-${run}`, numPartitions: 1 }]);
  service = await startService(isolatedOverrides(run, { INGEST_TOPIC_REFRESH_MS: String(REFRESH_MS) }), [sink]);
});

after(async () => {
  await service?.stop();
});

test('a matching topic created after start is consumed within the refresh interval', async () => {
  assert.deepEqual(service.subscribedTopics(), [`agent.tasks.first-${run}`]);
  const late = `agent.results.late-${run}`;
  await createTopics(kafka, [
    { topic: late, numPartitions: 2 },
    { topic: `other.tasks.late-${run}`, numPartitions: 1 },
  ]);
  const createdAt = Date.now();
  await waitFor('the new topic to be tapped', () => service.subscribedTopics().includes(late), 10 * REFRESH_MS);
  // Found at the next refresh; then the consumer rejoins its group with the new topic set.
  const discoveredAfterMs = Date.now() - createdAt;
  assert.ok(
    discoveredAfterMs <= REFRESH_MS + 1_000,
    `found ${discoveredAfterMs} ms after creation (refresh every ${REFRESH_MS} ms)`,
  );

  const producer = await connectedProducer(kafka);
  await producer.send({
    topic: late,
    messages: [{ key: 'wf', value: JSON.stringify({ workflow_id: 'wf', task_id: 'x', result: 'done' }) }],
  });
  await producer.send({ topic: `other.tasks.late-${run}`, messages: [{ key: 'wf', value: '{}' }] });
  await producer.disconnect();
  await waitFor('the record on the new topic', () => sink.events.some((e) => e.topic === late), 20_000);
  assert.deepEqual(
    service.subscribedTopics(),
    [`agent.results.late-${run}`, `agent.tasks.first-${run}`],
    'the non-matching topic is not tapped',
  );
  assert.ok(sink.events.every((e) => e.topic.startsWith('agent.')));
});
