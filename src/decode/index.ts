// The decode stage: wire formats (Confluent Avro via the registry, JSON envelope, A2A JSON-RPC) → AgentEvent.
export { createSchemaRegistry, probeSchemaRegistry, registrySchemaSource } from './schema-registry.js';
export { RecordDecoder } from './record-decoder.js';
export { DecodeWorkers } from './decode-workers.js';
export type { BatchDecoder, DecodeWorkersOptions, DecodeWorkersStats } from './decode-workers.js';
export type { DecoderOptions, RegisteredSchema, SchemaSource } from './record-decoder.js';
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
