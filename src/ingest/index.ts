// The ingest stage: the Kafka tap.
export { createKafka, probeKafka } from './kafka-client.js';
export type { KafkaProbe } from './kafka-client.js';
