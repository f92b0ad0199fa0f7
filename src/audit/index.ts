// The audit stage: the ClickHouse client factory (embedded chdb or a server), and event recorders.
export { createClickHouseClient, pingClickHouse, describeClickHouse, embeddedEngine } from './clickhouse-client.js';
export type { ClickHouseClient } from './clickhouse-client.js';
export { NdjsonFileSink, eventForJson } from './ndjson-file-sink.js';
export { AuditWriter } from './audit-writer.js';
export type { AuditWriterOptions, AuditWriterStats, ChainTail } from './audit-writer.js';
export { migrate } from './migrate.js';
export type { MigrationResult } from './migrate.js';
export { MIGRATIONS } from './migrations.js';
export { createRedactor, REDACTED } from './redaction.js';
export type { Redactor } from './redaction.js';
export {
  appendAuditRow,
  auditRowValues,
  chainHash,
  CHAIN_VERSION,
  AUDIT_TABLE_COLUMNS,
  HASHED_COLUMNS,
  SQL_ROW_HASH,
  writeEventHashedColumns,
  writeHashedColumns,
  writeRowTail,
} from './audit-row.js';
export type { AuditRowValues } from './audit-row.js';
export { canonicalV1, chainHashV1, HASHED_FIELDS_V1 } from './chain-v1.js';
export type { RowV1 } from './chain-v1.js';
export { insertRowBinary } from './clickhouse-client.js';
export { RowBinaryReader, RowBinaryWriter } from './row-binary.js';
export {
  chainGenesis,
  recomputeHash,
  storedPartitions,
  storedRows,
  verifyCheckpoints,
  verifyPartition,
  verifyPartitionInSql,
} from './verify.js';
export type { Checkpoint, StoredRow, VerifyProblem, VerifyRange, VerifyReport } from './verify.js';
export { CheckpointPublisher, readCheckpoints } from './checkpoints.js';
export {
  AUDIT_COLUMNS,
  EXPORT_SLICE_ROWS,
  planExport,
  searchAnomalies,
  searchAudit,
  searchIntegrityFindings,
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
  IntegrityFinding,
  QueryLimits,
} from './audit-queries.js';
export { SourceCheck } from './source-check.js';
export type { SourceReport } from './source-check.js';
export {
  alertExists,
  destinationSince,
  expireSilence,
  firingSilencedBy,
  insertAck,
  insertDeadLetter,
  insertSilence,
  readAcks,
  readDeadLetters,
  readFiringAlerts,
  readSilences,
} from './alert-records.js';
export type { AckRecord, DeadLetterRecord, SilenceRecord } from './alert-records.js';
