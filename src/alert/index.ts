// The alert stage: Avro alerts to the anomalies topic, and the live stream for subscribers.
export { AlertPublisher, ANOMALY_ALERT_SCHEMA, toAvro } from './alert-publisher.js';
export { AlertStream } from './alert-stream.js';
export type { AlertListener } from './alert-stream.js';
