// One stored record of the audit trail, and its place in the hash chain of its topic-partition:
//   hash = SHA-256(prev_hash + "\n" + canonical(row))
// where canonical(row) is the JSON array of every stored field except hash and ingested_at, each as
// a string, headers sorted by name. The same function hashes at write time and at verification, on
// rows read back from ClickHouse, so any change to a stored field breaks the chain at that row, and
// prev_offset makes a deleted row visible as a gap even where Kafka offsets are not contiguous.

import { hash as digest } from 'node:crypto';
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
  'topic',
  'partition',
  'offset',
  'prev_offset',
  'ts',
  'key',
  'headers',
  'agent',
  'capability',
  'workflow_id',
  'task_id',
  'message_id',
  'context_id',
  'rpc_id',
  'method',
  'step',
  'kind',
  'state',
  'error_type',
  'attempt',
  'payload_bytes',
  'encoding',
  'schema_id',
  'parse_error',
  'dlq_reason',
  'latency_ms',
  'retries',
  'timed_out',
  'payload',
  'payload_encoding',
] as const satisfies ReadonlyArray<keyof AuditRow>;

export type HashedRow = Pick<AuditRow, (typeof HASHED_FIELDS)[number]>;

/**
 * The columns of an audit insert in the order of `ChainedRow.cells`: ingested_at (set when the batch
 * is written); the two whose insert text differs from their hashed text (ts, headers); the chain;
 * then the other hashed fields, whose hashed text is inserted as is.
 */
export const INSERT_COLUMNS = [
  'ingested_at',
  'ts',
  'headers',
  'prev_hash',
  'hash',
  ...HASHED_FIELDS.filter((f) => f !== 'ts' && f !== 'headers'),
] as const;

const quote = JSON.stringify;
/** Characters JSON.stringify escapes in a string (and surrogates, which it may); without them a string is quoted as is. */
// oxlint-disable-next-line eslint/no-control-regex -- control characters are exactly what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(String(value)), faster for the short plain values most cells hold. */
function cell(value: unknown): string {
  if (typeof value === 'number') return `"${value}"`;
  const text = String(value);
  return NEEDS_ESCAPE.test(text) ? quote(text) : `"${text}"`;
}

/**
 * The hashed fields as the JSON texts canonical() puts in its array (every value as a string,
 * headers as [name, value] pairs sorted by name), in three runs around ts and headers, whose
 * stored form differs: [topic … prev_offset], key, [agent … payload_encoding]. Written out field by
 * field in HASHED_FIELDS order (a test checks it): this runs for every audited record.
 */
function hashedRuns(row: HashedRow): { head: string; key: string; tail: string } {
  return {
    head: `${cell(row.topic)},${cell(row.partition)},${cell(row.offset)},${cell(row.prev_offset)}`,
    key: cell(row.key),
    tail: [
      cell(row.agent),
      cell(row.capability),
      cell(row.workflow_id),
      cell(row.task_id),
      cell(row.message_id),
      cell(row.context_id),
      cell(row.rpc_id),
      cell(row.method),
      cell(row.step),
      cell(row.kind),
      cell(row.state),
      cell(row.error_type),
      cell(row.attempt),
      cell(row.payload_bytes),
      cell(row.encoding),
      cell(row.schema_id),
      cell(row.parse_error),
      cell(row.dlq_reason),
      cell(row.latency_ms),
      cell(row.retries),
      cell(row.timed_out),
      quote(String(row.payload)),
      cell(row.payload_encoding),
    ].join(','),
  };
}

function canonicalOf(runs: { head: string; key: string; tail: string }, ts: string, headers: string): string {
  return `[${runs.head},${ts},${runs.key},${headers},${runs.tail}]`;
}

function sortedHeaders(headers: Record<string, string>): string {
  const names = Object.keys(headers);
  if (names.length === 0) return '[]';
  return quote(names.sort().map((name) => [name, headers[name]]));
}

export function canonical(row: HashedRow): string {
  return canonicalOf(hashedRuns(row), cell(row.ts), sortedHeaders(row.headers));
}

export function chainHash(prevHash: string, row: HashedRow): string {
  return sha256(prevHash, canonical(row));
}

function sha256(prevHash: string, canonicalRow: string): string {
  return digest('sha256', `${prevHash}\n${canonicalRow}`, 'hex');
}

/**
 * The stored payload: the original text when nothing was redacted, else the redacted JSON; opaque
 * values as AUDIT_UNPARSED_PAYLOAD says. A body that parsed but is nested too deeply to serialise
 * again (JSON.stringify runs out of stack) and had to be redacted or re-encoded is kept as its
 * SHA-256: its text may hold what redaction masked, and one record must not stop the batch.
 */
function storedPayload(event: AgentEvent, redact: Redactor): { payload: string; payload_encoding: string } {
  try {
    return serialisedPayload(event, redact);
  } catch (err) {
    if (!(err instanceof RangeError) || event.value === null) throw err;
    return { payload: digest('sha256', event.value, 'hex'), payload_encoding: 'sha256' };
  }
}

function serialisedPayload(event: AgentEvent, redact: Redactor): { payload: string; payload_encoding: string } {
  if (event.value === null) return { payload: '', payload_encoding: 'none' };
  if (event.encoding === 'empty') return { payload: '', payload_encoding: 'text' };
  if (event.encoding === 'opaque') {
    // Redaction cannot see inside a value it cannot parse: AUDIT_UNPARSED_PAYLOAD decides what is kept.
    if (redact.unparsed === 'hash-only')
      return { payload: digest('sha256', event.value, 'hex'), payload_encoding: 'sha256' };
    if (redact.unparsed === 'drop-value') return { payload: '', payload_encoding: 'dropped' };
    return { payload: event.value.toString('base64'), payload_encoding: 'base64' };
  }
  const body =
    event.encoding === 'avro'
      ? (JSON.parse(
          JSON.stringify(event.body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
        ) as unknown)
      : event.body;
  const redacted = redact(body);
  if (event.encoding === 'avro') return { payload: JSON.stringify(redacted.value), payload_encoding: 'avro-json' };
  const text = event.schemaId === null ? event.value.toString('utf8') : event.value.subarray(5).toString('utf8');
  return redacted.changed
    ? { payload: JSON.stringify(redacted.value), payload_encoding: 'json-redacted' }
    : { payload: text, payload_encoding: 'text' };
}

/** An audit row and the same row encoded for the insert. */
export interface ChainedRow {
  row: AuditRow;
  /**
   * The row's JSONCompactEachRow cells after ingested_at, comma-separated (INSERT_COLUMNS order).
   * Built from the cells that were hashed, so each value is serialised once.
   */
  cells: string;
}

/** The row for `event`, chained after (prevOffset, prevHash). */
export function toAuditRow(event: AgentEvent, prevOffset: string, prevHash: string, redact: Redactor): AuditRow {
  return chainRow(event, prevOffset, prevHash, redact).row;
}

export function chainRow(event: AgentEvent, prevOffset: string, prevHash: string, redact: Redactor): ChainedRow {
  const stored = storedPayload(event, redact);
  const row: AuditRow = {
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
    payload: stored.payload,
    payload_encoding: stored.payload_encoding,
    prev_hash: prevHash,
    hash: '',
  };
  const runs = hashedRuns(row);
  row.hash = sha256(prevHash, canonicalOf(runs, cell(row.ts), sortedHeaders(row.headers)));
  // The insert reuses the hashed texts, except ts as DateTime64 text and headers as a Map object
  // (ClickHouse reads the quoted numbers as numbers). Hashes are hex: quoted as they are.
  const cells = `"${clickhouseTime(row.ts)}",${quote(row.headers)},"${prevHash}","${row.hash}",${runs.head},${runs.key},${runs.tail}`;
  return { row, cells };
}

/** ClickHouse DateTime64(3) text for ms since the epoch, exact to the millisecond. */
export function clickhouseTime(ms: number): string {
  // Records arrive in time order, so the text up to the second is usually the previous one's.
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastSecondText = new Date(second * 1000).toISOString().slice(0, 19).replace('T', ' ');
  }
  return `${lastSecondText}.${String(ms - second * 1000).padStart(3, '0')}`;
}

let lastSecond = Number.NaN;
let lastSecondText = '';
