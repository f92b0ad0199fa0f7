// The tap's topic filter under the default configuration: every agent topic, never agentwatch's own
// output (its anomalies topic matches the default pattern `^agent\.`: tapping it would feed alerts
// back into detection), nor internal topics, nor INGEST_EXCLUDE_TOPICS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { createTopicFilter } from '../../../src/ingest/index.js';

test('the default pattern taps agent topics, never the anomalies, DLQ or checkpoints topics, nor internal ones', () => {
  const config = loadConfig({});
  const tapped = createTopicFilter(config.ingest, config.topics);
  assert.equal(config.topics.anomalies, 'agent.anomalies', 'the default anomalies topic matches ^agent\\.');
  assert.ok(config.ingest.topicPattern.test(config.topics.anomalies));
  for (const topic of ['agent.tasks.summarize', 'agent.results.summarize', 'agent.status.plan', 'agent.events.x']) {
    assert.equal(tapped(topic), true, topic);
  }
  for (const topic of [
    config.topics.anomalies,
    config.topics.dlq,
    config.topics.checkpoints,
    '__consumer_offsets',
    '_schemas',
    'orders.created',
  ]) {
    assert.equal(tapped(topic), false, topic);
  }
});

test('renamed output topics and INGEST_EXCLUDE_TOPICS are left out too', () => {
  const config = loadConfig({
    ANOMALIES_TOPIC: 'agent.alerts',
    DLQ_TOPIC: 'agent.dead',
    INGEST_EXCLUDE_TOPICS: 'agent.tasks.secret',
  });
  const tapped = createTopicFilter(config.ingest, config.topics);
  assert.deepEqual(['agent.alerts', 'agent.dead', 'agent.tasks.secret', 'agent.tasks.open'].map(tapped), [
    false,
    false,
    false,
    true,
  ]);
});
