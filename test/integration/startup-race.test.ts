// agentwatch started right after the agent topics were created (their partitions may not have
// leaders yet, and brokers answer UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE for a moment)
// retries what a Kafka client should retry and consumes them, without exiting.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Service } from '../../src/service.js';
import {
  CollectingSink,
  connectedProducer,
  isolatedOverrides,
  runId,
  startService,
  testKafka,
  waitFor,
} from './harness.js';

const kafka = testKafka();
let service: Service | undefined;

after(async () => {
  await service?.stop();
});

test("started right after the agent topics' creation (leaders not elected yet), agentwatch consumes them", async () => {
  for (let round = 0; round < 3; round += 1) {
    const run = runId();
    const topics = ['tasks', 'results'].flatMap((kind) =>
      ['plan', 'code'].map((capability) => `agent.${kind}.${capability}-${run}`),
    );
    // The output topics are new too (a fresh DLQ per run), as on a first start.
    const admin = kafka.admin();
    await admin.connect();
    const created = Date.now();
    const creating = admin.createTopics({
      waitForLeaders: false,
      topics: topics.map((topic) => ({ topic, numPartitions: 3 })),
    });
    await creating;
    const sink = new CollectingSink();
    const startedAfterMs = Date.now() - created;
    service = await startService(isolatedOverrides(run, { INGEST_TOPIC_REFRESH_MS: '60000' }), [sink]);
    await admin.disconnect();
    // How close the start came is the machine's speed, not agentwatch's behaviour: reported, not asserted.
    process.stdout.write(`# round ${round}: started ${startedAfterMs} ms after the topics were created\n`);
    assert.deepEqual(
      [...service.subscribedTopics()].sort(),
      [...topics].sort(),
      `round ${round}: every new topic tapped at start`,
    );

    const producer = await connectedProducer(kafka);
    await producer.sendBatch({
      topicMessages: topics.map((topic) => ({
        topic,
        messages: [{ key: 'wf', value: JSON.stringify({ workflow_id: 'wf', task_id: `t-${topic}` }) }],
      })),
    });
    await producer.disconnect();
    await waitFor(
      `round ${round}: a record from every topic`,
      () => topics.every((topic) => sink.events.some((e) => e.topic === topic)),
      30_000,
    );
    await service.stop(); // one embedded ClickHouse per process: the next round starts its own
    service = undefined;
  }
});
