// The audit stage: the ClickHouse client factory (embedded chdb or a server), and event recorders.
export { createClickHouseClient, pingClickHouse, describeClickHouse } from './clickhouse-client.js';
export type { ClickHouseClient } from './clickhouse-client.js';
export { NdjsonFileSink, eventForJson } from './ndjson-file-sink.js';
export { AuditWriter } from './audit-writer.js';
export type { AuditWriterOptions, AuditWriterStats, ChainTail } from './audit-writer.js';
export { migrate } from './migrate.js';
export type { MigrationResult } from './migrate.js';
export { MIGRATIONS } from './migrations.js';
export { createRedactor, REDACTED } from './redaction.js';
export type { Redactor } from './redaction.js';
export { canonical, chainHash, HASHED_FIELDS, toAuditRow } from './audit-row.js';
export type { AuditRow } from './audit-row.js';
export { verifyPartition, verifyCheckpoints, storedPartitions } from './verify.js';
export type { Checkpoint, VerifyProblem, VerifyRange, VerifyReport } from './verify.js';
export { CheckpointPublisher, readCheckpoints } from './checkpoints.js';
export {
  AUDIT_COLUMNS,
  EXPORT_SLICE_ROWS,
  planExport,
  searchAnomalies,
  searchAudit,
  streamExport,
  workflowTimeline,
} from './audit-queries.js';
export type { ExportPlan } from './audit-queries.js';
export type {
  AnomalyFilter,
  AnomalyRecord,
  AuditCursor,
  AuditFilter,
  AuditRecord,
  QueryLimits,
} from './audit-queries.js';
