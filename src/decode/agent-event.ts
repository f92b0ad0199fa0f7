// The canonical AgentEvent: every Kafka record yields exactly one, including records that cannot be
// parsed. Decode fills the Kafka coordinates and agent semantics; correlate fills latencyMs, retries
// and timedOut.

import type { KafkaRecord } from './kafka-record.js';

export const EVENT_KINDS = ['request', 'result', 'status', 'error', 'unknown'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** A2A task states (v0.3 spelling; v1.0's TASK_STATE_* names are mapped onto these). */
export const TASK_STATES = [
  'submitted',
  'working',
  'input-required',
  'completed',
  'failed',
  'canceled',
  'rejected',
  'auth-required',
  'unknown',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** States after which a task gets no further answer. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['completed', 'failed', 'canceled', 'rejected']);

/**
 * How the value was read: decoded (avro, json, a2a-jsonrpc); opaque (bytes that cannot be decoded,
 * with a parseError and a DLQ copy); or nothing to decode: a tombstone (a null value, a compacted
 * topic's delete marker) or an empty value (0 bytes), each audited with its reason, not dead-lettered.
 */
export const ENCODINGS = ['avro', 'json', 'a2a-jsonrpc', 'opaque', 'tombstone', 'empty'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** Whether the event's value was decoded into agent semantics (so it can be correlated and scored). */
export function isDecoded(encoding: Encoding): boolean {
  return encoding === 'avro' || encoding === 'json' || encoding === 'a2a-jsonrpc';
}

/** The reasons recorded (as parseError) for values with nothing to decode. */
export const TOMBSTONE_REASON = 'tombstone: the record has no value (null), a delete marker on a compacted topic';
export const EMPTY_REASON = 'empty value: the record has a value of 0 bytes';

/** Why a record was copied to the dead-letter topic. */
export const DLQ_REASONS = [
  'unknown-schema',
  'avro-decode-failed',
  'invalid-utf8',
  'invalid-json',
  'oversized',
] as const;
export type DlqReason = (typeof DLQ_REASONS)[number];

/** The Kafka coordinates, key, headers and original value come from the record (KafkaRecord). */
export interface AgentEvent extends KafkaRecord {
  // Agent semantics (OpenTelemetry names in comments where they exist)
  /**
   * The agent that produced the record, as it names itself (payload or header), else the capability.
   * Not the detection's agent, which is a capability or one of its workers (see detect/).
   */
  producer: string;
  /** Task type / capability (from the topic agent.<kind>.<capability>, else the payload). */
  capability: string;
  workflowId: string | null;
  /** a2a.task.id */
  taskId: string | null;
  messageId: string | null;
  /** gen_ai.conversation.id (the A2A context id) */
  contextId: string | null;
  /** JSON-RPC request id, which pairs a response with its request. */
  rpcId: string | null;
  /** a2a.method.name, normalised to A2A v1.0 names (SendMessage, GetTask, ...). */
  method: string | null;
  /** Workflow step, for correlation when there is no task id. */
  step: string | null;
  kind: EventKind;
  /** a2a.task.state */
  state: TaskState | null;
  /** error.type */
  errorType: string | null;
  attempt: number;
  payloadBytes: number;
  encoding: Encoding;
  schemaId: number | null;
  parseError: string | null;
  dlqReason: DlqReason | null;
  /** The decoded value (JSON, or the Avro record as JSON); null when opaque. */
  body: unknown;

  /**
   * The record's audit row after its chain position (RowBinary of the hashed columns from ts on),
   * when an ingest worker wrote it beside decoding; absent or null, the audit writer writes it.
   */
  auditRowTail?: Uint8Array | null;

  /** Filled by the event clock: 'ahead' or 'behind' when no clock explains the timestamp (audited, not correlated or scored). */
  clockSkew: 'ahead' | 'behind' | null;

  // Filled by correlation
  /** The agent (worker) that answered the task, on its answer and on a request read after its answer. */
  answeredBy: string | null;
  latencyMs: number | null;
  retries: number;
  timedOut: boolean;
}
