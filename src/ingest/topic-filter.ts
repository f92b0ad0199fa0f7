// Which topics the tap reads: those matching INGEST_TOPIC_PATTERN, minus agentwatch's own output
// topics, INGEST_EXCLUDE_TOPICS and internal topics (names starting with "_", e.g. __consumer_offsets, _schemas).

import type { IngestConfig, TopicsConfig } from '../config/index.js';

export type TopicFilter = (topic: string) => boolean;

export function createTopicFilter(ingest: IngestConfig, topics: TopicsConfig): TopicFilter {
  const excluded = new Set([topics.dlq, topics.anomalies, topics.checkpoints, ...ingest.excludeTopics]);
  return (topic) => !topic.startsWith('_') && !excluded.has(topic) && ingest.topicPattern.test(topic);
}
