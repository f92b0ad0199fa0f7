// The audit stage: the ClickHouse client factory (embedded chdb or a server), and event recorders.
export { createClickHouseClient, pingClickHouse, describeClickHouse } from './clickhouse-client.js';
export type { ClickHouseClient } from './clickhouse-client.js';
export { NdjsonFileSink, eventForJson } from './ndjson-file-sink.js';
