// One stored record of the audit trail (chain version 2), and its place in the hash chain of its
// topic-partition:
//   hash = SHA-256(prev_hash ‖ RowBinary(hashed columns))
// prev_hash is the previous row's hash as its 64 hex characters (nothing for a partition's first
// row), and RowBinary is ClickHouse's own binary row format (length-prefixed, so unambiguous), of
// the HASHED_COLUMNS in order. ClickHouse can therefore check a row by itself:
//   lower(hex(SHA256(concat(prev_hash, formatRowNoNewline('RowBinary', <hashed columns>))))) = hash
//
// The row is a pure function of the Kafka record and of what is decoded from that record alone:
// coordinates, timestamp, key and header bytes, the (redacted) value, and the record's own
// semantics. Correlation outcomes (latency, retries, timeouts), which depend on what else was read
// and in which order, go to task_outcomes instead. So the same record gives byte-identical rows,
// whoever writes it and whenever, and an auditor can recompute a chain from the Kafka log.
//
// Each row is built once, straight into the insert batch's buffer: the hashed columns, then the
// unhashed ones (see INSERT_COLUMNS). The hash is computed over the bytes in that buffer, and the
// same bytes are inserted. prev_offset makes a deleted row visible as a gap even where Kafka
// offsets are not contiguous.

import { createHash, hash as digest } from 'node:crypto';
import type { AgentEvent } from '../decode/index.js';
import type { Redactor } from './redaction.js';
import type { RowBinaryWriter } from './row-binary.js';

/** The chain version written today; version 1 rows (chain-v1.ts) still verify. */
export const CHAIN_VERSION = 2;

/** The hashed columns of chain version 2, in RowBinary order, with their ClickHouse types. */
export const HASHED_COLUMNS = [
  ['topic', 'LowCardinality(String)'],
  ['partition', 'UInt32'],
  ['offset', 'UInt64'],
  ['prev_offset', 'Int64'],
  ['ts', "DateTime64(3, 'UTC')"],
  ['key', 'String'],
  ['headers', 'Map(String, String)'],
  ['producer', 'LowCardinality(String)'],
  ['capability', 'LowCardinality(String)'],
  ['workflow_id', 'String'],
  ['task_id', 'String'],
  ['message_id', 'String'],
  ['context_id', 'String'],
  ['rpc_id', 'String'],
  ['method', 'LowCardinality(String)'],
  ['step', 'String'],
  ['kind', 'LowCardinality(String)'],
  ['state', 'LowCardinality(String)'],
  ['error_type', 'String'],
  ['attempt', 'UInt16'],
  ['payload_bytes', 'UInt32'],
  ['encoding', 'LowCardinality(String)'],
  ['schema_id', 'Int64'],
  ['parse_error', 'String'],
  ['dlq_reason', 'LowCardinality(String)'],
  ['payload', 'String'],
  ['payload_encoding', 'LowCardinality(String)'],
] as const;

export type HashedColumn = (typeof HASHED_COLUMNS)[number][0];

/**
 * The columns of an audit insert, in the order each row is written: prev_hash, then the hashed
 * columns (so that the hashed input, prev_hash's hex text followed by the hashed columns, is one
 * contiguous run of the row: prev_hash's one-byte length prefix is all that precedes it), the
 * correlation columns of version 1 (written as "unknown": -1, 0, 0; outcomes are in task_outcomes),
 * the hash, the version, and ingested_at (filled when the batch is inserted).
 */
export const INSERT_COLUMNS = [
  'prev_hash',
  ...HASHED_COLUMNS.map(([name]) => name),
  'latency_ms',
  'retries',
  'timed_out',
  'hash',
  'chain_version',
  'ingested_at',
] as const;

/**
 * Every column of audit_events with its type as ClickHouse describes it: the hashed ones, then the
 * rest of the insert (a test compares it with DESCRIBE TABLE of the real, migrated table).
 */
export const AUDIT_TABLE_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['prev_hash', 'String'],
  ...HASHED_COLUMNS,
  ['latency_ms', 'Int64'],
  ['retries', 'UInt16'],
  ['timed_out', 'UInt8'],
  ['hash', 'String'],
  ['chain_version', 'UInt8'],
  ['ingested_at', "DateTime64(3, 'UTC')"],
];

/** The SQL expression that recomputes a stored version-2 row's hash (lowercase hex). */
export const SQL_ROW_HASH = `lower(hex(SHA256(concat(prev_hash, formatRowNoNewline('RowBinary', ${HASHED_COLUMNS.map(([name]) => name).join(', ')})))))`;

/** The hashed values of one row (what RowBinary(hashed columns) is built from). */
export interface AuditRowValues {
  topic: string;
  partition: number;
  /** Offsets as decimal strings (Kafka offsets are int64). */
  offset: string;
  /** The previous stored offset of this topic-partition, -1 for the first. */
  prev_offset: string;
  /** Record timestamp, ms since the epoch. */
  ts: number;
  /** The key's bytes as sent (empty for a null key). */
  key: Uint8Array;
  /** Header names and value bytes, sorted by name (UTF-8 byte order); a repeated name's values in record order. */
  headers: ReadonlyArray<readonly [string, Uint8Array]>;
  /** The agent that produced the record, as it names itself, else the capability (AgentEvent.producer). */
  producer: string;
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
  /** The attempt the record declares (1 when it does not). */
  attempt: number;
  payload_bytes: number;
  encoding: string;
  /** -1 when not Confluent-framed. */
  schema_id: number;
  parse_error: string;
  dlq_reason: string;
  payload: Uint8Array | string;
  payload_encoding: string;
}

/**
 * Writes the hashed columns of `row` in RowBinary, in HASHED_COLUMNS order (a test reads them back
 * against that list). This runs for every audited record.
 */
export function writeHashedColumns(out: RowBinaryWriter, row: AuditRowValues): void {
  writeRowHead(out, row.topic, row.partition, row.offset, row.prev_offset);
  writeRowTail(out, row);
}

/** The hashed columns up to prev_offset: where the record is, and which row precedes it in the chain. */
function writeRowHead(
  out: RowBinaryWriter,
  topic: string,
  partition: number,
  offset: string,
  prevOffset: string,
): void {
  out.string(topic);
  out.uint32(partition);
  out.uint64(offset);
  out.int64(prevOffset === '-1' ? -1 : prevOffset);
}

/**
 * The hashed columns after prev_offset (ts to payload_encoding): what the record holds and what is
 * decoded from it, the same wherever the record lands in the chain. An ingest worker writes them
 * beside decoding (AgentEvent.auditRowTail); the main thread then only adds the head and hashes.
 */
export function writeRowTail(out: RowBinaryWriter, row: AuditRowValues): void {
  out.int64(row.ts);
  out.stringBytes(row.key);
  out.varint(row.headers.length);
  for (const [name, value] of row.headers) {
    out.string(name);
    out.stringBytes(value);
  }
  out.string(row.producer);
  out.string(row.capability);
  out.string(row.workflow_id);
  out.string(row.task_id);
  out.string(row.message_id);
  out.string(row.context_id);
  out.string(row.rpc_id);
  out.string(row.method);
  out.string(row.step);
  out.string(row.kind);
  out.string(row.state);
  out.string(row.error_type);
  out.uint16(row.attempt);
  out.uint32(row.payload_bytes);
  out.string(row.encoding);
  out.int64(row.schema_id);
  out.string(row.parse_error);
  out.string(row.dlq_reason);
  if (typeof row.payload === 'string') out.string(row.payload);
  else out.stringBytes(row.payload);
  out.string(row.payload_encoding);
}

/** The chain hash of hashed-column bytes after `prevHash`. */
export function chainHash(prevHash: string, hashedBytes: Uint8Array): string {
  const sha = createHash('sha256');
  if (prevHash.length > 0) sha.update(prevHash, 'latin1');
  return sha.update(hashedBytes).digest('hex');
}

/**
 * Writes the hashed columns of `event`'s row chained after `prevOffset`: from the tail an ingest
 * worker wrote (AgentEvent.auditRowTail), else built here.
 */
export function writeEventHashedColumns(
  out: RowBinaryWriter,
  event: AgentEvent,
  prevOffset: string,
  redact: Redactor,
): void {
  const tail = event.auditRowTail;
  if (tail === undefined || tail === null) {
    writeHashedColumns(out, auditRowValues(event, prevOffset, redact));
    return;
  }
  writeRowHead(out, event.topic, event.partition, event.offset, prevOffset);
  out.append(tail);
}

/**
 * Appends the full insert row for `values` to `out` (INSERT_COLUMNS order) and returns its hash.
 * The last 8 bytes (ingested_at) are a placeholder that the writer fills when it inserts the batch.
 */
export function appendAuditRow(out: RowBinaryWriter, values: AuditRowValues, prevHash: string): string {
  out.string(prevHash);
  const hashedFrom = out.length - prevHash.length; // prev_hash's text, after its length byte
  writeHashedColumns(out, values);
  return finishRow(out, hashedFrom);
}

/** appendAuditRow for `event` chained after `prevOffset` and `prevHash` (writeEventHashedColumns). */
export function appendEventRow(
  out: RowBinaryWriter,
  event: AgentEvent,
  prevOffset: string,
  prevHash: string,
  redact: Redactor,
): string {
  out.string(prevHash);
  const hashedFrom = out.length - prevHash.length;
  writeEventHashedColumns(out, event, prevOffset, redact);
  return finishRow(out, hashedFrom);
}

/** Hashes the row from `hashedFrom` (prev_hash's text, then the hashed columns) and writes the columns after them. */
function finishRow(out: RowBinaryWriter, hashedFrom: number): string {
  const hash = digest('sha256', out.bytes(hashedFrom), 'hex'); // = chainHash(prevHash, hashed columns)
  out.int64(-1); // latency_ms
  out.uint16(0); // retries
  out.uint8(0); // timed_out
  out.string(hash);
  out.uint8(CHAIN_VERSION);
  out.int64(0); // ingested_at, filled at insert
  return hash;
}

const EMPTY = Buffer.alloc(0);

/** The hashed values of the row for `event`, chained after `prevOffset`. */
export function auditRowValues(event: AgentEvent, prevOffset: string, redact: Redactor): AuditRowValues {
  const stored = storedPayload(event, redact);
  return {
    topic: event.topic,
    partition: event.partition,
    offset: event.offset,
    prev_offset: prevOffset,
    ts: event.timestamp,
    key: event.keyBytes !== undefined ? (event.keyBytes ?? EMPTY) : event.key === null ? EMPTY : Buffer.from(event.key),
    headers: headerPairs(event),
    producer: event.producer,
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
    payload: stored.payload,
    payload_encoding: stored.payload_encoding,
  };
}

/** The record's headers as sorted (name, bytes) pairs. */
function headerPairs(event: AgentEvent): ReadonlyArray<readonly [string, Uint8Array]> {
  const pairs: Array<readonly [string, Uint8Array]> =
    event.headerPairs !== undefined
      ? [...event.headerPairs]
      : Object.entries(event.headers).map(([name, value]) => [name, Buffer.from(value)] as const);
  if (pairs.length > 1) pairs.sort(([a], [b]) => compareUtf8(a, b));
  return pairs;
}

/** Orders strings by their UTF-8 bytes (what an auditor's tools sort by); Array.sort is stable for ties. */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-16 code unit order is UTF-8 byte order except between surrogates and U+E000..U+FFFF.
  if (!BEYOND_D7FF.test(a) && !BEYOND_D7FF.test(b)) return a < b ? -1 : 1;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const BEYOND_D7FF = /[\ud800-\uffff]/;

/**
 * The stored payload: the value's bytes as sent when nothing was redacted (a Confluent frame's
 * 5-byte header left out), else the redacted JSON; Avro as its JSON; undecodable values as
 * AUDIT_UNPARSED_PAYLOAD says ('bytes': the value as sent). A body that had to be redacted or
 * re-encoded but is nested more than MAX_SERIALISED_DEPTH levels deep is kept as its SHA-256: its
 * text may hold what redaction masked, and one record must not stop the batch. The limit is a
 * number, not where JSON.stringify runs out of stack, so that the row is the same on any thread
 * (an ingest worker has a larger stack than the main thread) and in any Node version.
 */
export function storedPayload(
  event: AgentEvent,
  redact: Redactor,
): { payload: Uint8Array | string; payload_encoding: string } {
  try {
    return serialisedPayload(event, redact);
  } catch (err) {
    if (!(err instanceof RangeError) || event.value === null) throw err;
    return { payload: digest('sha256', event.value, 'hex'), payload_encoding: 'sha256' };
  }
}

function serialisedPayload(
  event: AgentEvent,
  redact: Redactor,
): { payload: Uint8Array | string; payload_encoding: string } {
  if (event.value === null) return { payload: '', payload_encoding: 'none' };
  if (event.encoding === 'empty') return { payload: '', payload_encoding: 'text' };
  if (event.encoding === 'opaque') {
    // Redaction cannot see inside a value it cannot parse: AUDIT_UNPARSED_PAYLOAD decides what is kept.
    if (redact.unparsed === 'hash-only')
      return { payload: digest('sha256', event.value, 'hex'), payload_encoding: 'sha256' };
    if (redact.unparsed === 'drop-value') return { payload: '', payload_encoding: 'dropped' };
    return { payload: event.value, payload_encoding: 'bytes' };
  }
  if (event.encoding === 'avro' && nestedDeeperThan(event.body, MAX_SERIALISED_DEPTH)) return digestOf(event.value);
  const body =
    event.encoding === 'avro'
      ? (JSON.parse(
          JSON.stringify(event.body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
        ) as unknown)
      : event.body;
  const redacted = redact(body);
  if (event.encoding === 'avro') return { payload: JSON.stringify(redacted.value), payload_encoding: 'avro-json' };
  if (redacted.changed) {
    if (nestedDeeperThan(redacted.value, MAX_SERIALISED_DEPTH)) return digestOf(event.value);
    return { payload: JSON.stringify(redacted.value), payload_encoding: 'json-redacted' };
  }
  return { payload: event.schemaId === null ? event.value : event.value.subarray(5), payload_encoding: 'text' };
}

/** Deepest nesting of objects and arrays in a body that is re-serialised for storage. */
export const MAX_SERIALISED_DEPTH = 1_000;

function digestOf(value: Buffer): { payload: string; payload_encoding: string } {
  return { payload: digest('sha256', value, 'hex'), payload_encoding: 'sha256' };
}

/** Whether `value` nests objects and arrays more than `limit` levels deep (a flat object is 1); iterative. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object' || ArrayBuffer.isView(node)) continue; // bytes: a leaf
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
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
