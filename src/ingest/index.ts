// The ingest stage: the Kafka tap, topic discovery, the DLQ.
export { createKafka, probeKafka } from './kafka-client.js';
export type { KafkaProbe } from './kafka-client.js';
export { AgentTap, toRecord } from './agent-tap.js';
export type { BatchHandler, HandledBatch, TapBatch, TapOptions, TapStats } from './agent-tap.js';
export { createTopicFilter } from './topic-filter.js';
export type { TopicFilter } from './topic-filter.js';
export { isKafkaAccessDenied, isTransientKafkaError, withKafkaRetry } from './kafka-retry.js';
export { DEFAULT_MAX_MESSAGE_BYTES, DlqDelivery, DlqWriter, DLQ_HEADERS, type DlqStats } from './dlq-writer.js';
export { ensureTopics } from './output-topics.js';
export { GroupHealthWatch, classifyGroup } from './group-health.js';
export type { GroupHealth, GroupHealthOptions, GroupHealthStats, GroupStatus } from './group-health.js';
export { LagClock } from './lag-clock.js';
