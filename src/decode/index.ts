// The decode stage: wire formats (Confluent Avro via the registry, JSON envelope, A2A JSON-RPC) → AgentEvent.
export { createSchemaRegistry, probeSchemaRegistry, registrySchemaSource } from './schema-registry.js';
export { RecordDecoder, confluentSchemaId } from './record-decoder.js';
export { eventsFromFacts, packFacts, packRecords, unpackRecords } from './packed-batch.js';
export type { PackedFacts, PackedRecords } from './packed-batch.js';
export type { BatchDecoder, DecoderOptions, RegisteredSchema, SchemaSource } from './record-decoder.js';
export { TASK_OPENING_METHODS, normaliseMethod, normaliseState } from './a2a-jsonrpc.js';
export {
  DLQ_REASONS,
  EMPTY_REASON,
  ENCODINGS,
  EVENT_KINDS,
  TASK_STATES,
  TERMINAL_STATES,
  TOMBSTONE_REASON,
  isDecoded,
} from './agent-event.js';
export type { AgentEvent, DlqReason, Encoding, EventKind, TaskState } from './agent-event.js';
export type { KafkaRecord } from './kafka-record.js';
