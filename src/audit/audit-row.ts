// One stored record of the audit trail, and its place in the hash chain of its topic-partition:
//   hash = SHA-256(prev_hash + "\n" + canonical(row))
// where canonical(row) is the JSON array of every stored field except hash and ingested_at, each as
// a string, headers sorted by name. The same function hashes at write time and at verification, on
// rows read back from ClickHouse, so any change to a stored field breaks the chain at that row, and
// prev_offset makes a deleted row visible as a gap even where Kafka offsets are not contiguous.

import { createHash } from 'node:crypto';
import type { AgentEvent } from '../decode/index.js';
import type { Redactor } from './redaction.js';

export interface AuditRow {
  topic: string;
  partition: number;
  offset: string;
  prev_offset: string;
  /** Record timestamp, ms since the epoch. */
  ts: number;
  key: string;
  headers: Record<string, string>;
  agent: string;
  capability: string;
  workflow_id: string;
  task_id: string;
  message_id: string;
  context_id: string;
  rpc_id: string;
  method: string;
  step: string;
  kind: string;
  state: string;
  error_type: string;
  attempt: number;
  payload_bytes: number;
  encoding: string;
  schema_id: number;
  parse_error: string;
  dlq_reason: string;
  latency_ms: number;
  retries: number;
  timed_out: number;
  payload: string;
  payload_encoding: string;
  prev_hash: string;
  hash: string;
}

/** The fields that are hashed, in order (every stored field but hash and ingested_at). */
export const HASHED_FIELDS = [
  'topic', 'partition', 'offset', 'prev_offset', 'ts', 'key', 'headers', 'agent', 'capability', 'workflow_id', 'task_id',
  'message_id', 'context_id', 'rpc_id', 'method', 'step', 'kind', 'state', 'error_type', 'attempt', 'payload_bytes',
  'encoding', 'schema_id', 'parse_error', 'dlq_reason', 'latency_ms', 'retries', 'timed_out', 'payload', 'payload_encoding',
] as const satisfies ReadonlyArray<keyof AuditRow>;

export type HashedRow = Pick<AuditRow, (typeof HASHED_FIELDS)[number]>;

export function canonical(row: HashedRow): string {
  return JSON.stringify(HASHED_FIELDS.map((field) => {
    const value = row[field];
    if (field === 'headers') return Object.entries(value as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return String(value);
  }));
}

export function chainHash(prevHash: string, row: HashedRow): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonical(row)).digest('hex');
}

/** The stored payload: the original text when nothing was redacted, else the redacted JSON; opaque values in base64. */
function storedPayload(event: AgentEvent, redact: Redactor): { payload: string; payload_encoding: string } {
  if (event.value === null) return { payload: '', payload_encoding: 'none' };
  if (event.encoding === 'opaque') return { payload: event.value.toString('base64'), payload_encoding: 'base64' };
  const body = event.encoding === 'avro' ? JSON.parse(JSON.stringify(event.body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as unknown : event.body;
  const redacted = redact(body);
  if (event.encoding === 'avro') return { payload: JSON.stringify(redacted.value), payload_encoding: 'avro-json' };
  const text = event.schemaId === null ? event.value.toString('utf8') : event.value.subarray(5).toString('utf8');
  return redacted.changed ? { payload: JSON.stringify(redacted.value), payload_encoding: 'json-redacted' } : { payload: text, payload_encoding: 'text' };
}

/** The row for `event`, chained after (prevOffset, prevHash). */
export function toAuditRow(event: AgentEvent, prevOffset: string, prevHash: string, redact: Redactor): AuditRow {
  const row: Omit<AuditRow, 'hash'> = {
    topic: event.topic,
    partition: event.partition,
    offset: event.offset,
    prev_offset: prevOffset,
    ts: event.timestamp,
    key: event.key ?? '',
    headers: event.headers,
    agent: event.agent,
    capability: event.capability,
    workflow_id: event.workflowId ?? '',
    task_id: event.taskId ?? '',
    message_id: event.messageId ?? '',
    context_id: event.contextId ?? '',
    rpc_id: event.rpcId ?? '',
    method: event.method ?? '',
    step: event.step ?? '',
    kind: event.kind,
    state: event.state ?? '',
    error_type: event.errorType ?? '',
    attempt: event.attempt,
    payload_bytes: event.payloadBytes,
    encoding: event.encoding,
    schema_id: event.schemaId ?? -1,
    parse_error: event.parseError ?? '',
    dlq_reason: event.dlqReason ?? '',
    latency_ms: event.latencyMs ?? -1,
    retries: event.retries,
    timed_out: event.timedOut ? 1 : 0,
    ...storedPayload(event, redact),
    prev_hash: prevHash,
  };
  return { ...row, hash: chainHash(prevHash, row) };
}

/** ClickHouse DateTime64(3) text for ms since the epoch, exact to the millisecond. */
export function clickhouseTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}
