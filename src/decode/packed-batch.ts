// The hand-off of a batch to an ingest worker and back, in a few transferable buffers instead of an
// object per record (structured clone of the records and events cost the main thread more than
// decoding them, 5.7–8.2 against 3.6–4.3 µs per record; bench/README.md):
// - to the worker: the batch's topic; every record's key, value and header bytes copied into one
//   buffer, with their places in Int32Arrays; the timestamps in a Float64Array; and the header
//   texts of the records that have headers (strings: cloning a kafkajs header value, a view into
//   the fetch response, would copy the whole response);
// - back: per event its enums and string-table indices in an Int32Array (a capability or producer
//   is sent once per batch), its numbers in a Float64Array, and the audit rows' tails the worker
//   wrote (AgentEvent.auditRowTail) in one buffer. Never a parsed body: a structured clone of a
//   deeply nested one may not fit the receiving thread's stack.
// The main thread keeps its own records and builds each event from them and the facts: the event is
// field for field what RecordDecoder.decode gives on the main thread, but for its JSON body, which
// is null (nothing downstream of decoding reads it once the row tail is written; the events file
// parses the value again).

import {
  DLQ_REASONS,
  ENCODINGS,
  EVENT_KINDS,
  TASK_STATES,
  type AgentEvent,
  type DlqReason,
  type Encoding,
  type EventKind,
  type TaskState,
} from './agent-event.js';
import type { KafkaRecord } from './kafka-record.js';

/** Records of one topic as an ingest worker takes them. */
export interface PackedRecords {
  topic: string;
  count: number;
  /** Keys, values and header names and values, back to back. */
  bytes: ArrayBuffer;
  /** Per record (LAYOUT_INTS): value start, value length (-1: null), key start, key length (-1: null), first header pair, header pairs. */
  layout: ArrayBuffer;
  /** Per header pair (PAIR_INTS): name start, name length, value start, value length. */
  pairs: ArrayBuffer;
  /** Per record: its timestamp (ms since the epoch). */
  timestamps: ArrayBuffer;
  /** [record index, header texts] of the records that have headers. */
  headers: Array<[number, Record<string, string>]>;
}

/** What a worker found in each record, in record order. */
export interface PackedFacts {
  /** FACT_INTS per event; see the F_ constants. */
  ints: ArrayBuffer;
  /** FACT_NUMBERS per event: the attempt, and the schema id (NaN: none). */
  numbers: ArrayBuffer;
  /** The distinct strings of the batch's events; -1 in `ints` is null. */
  strings: string[];
  /** Each event's audit row tail back to back, and where each ends; null when none were written. */
  rowTails: { bytes: ArrayBuffer; ends: ArrayBuffer } | null;
}

const LAYOUT_INTS = 6;
const PAIR_INTS = 4;

/** The string fields of an event, in the order of their indices in the facts. */
const STRING_FIELDS = [
  'producer',
  'capability',
  'workflowId',
  'taskId',
  'messageId',
  'contextId',
  'rpcId',
  'method',
  'step',
  'errorType',
  'parseError',
] as const;

const F_KIND = 0;
const F_STATE = 1;
const F_ENCODING = 2;
const F_DLQ_REASON = 3;
const F_STRINGS = 4;
const FACT_INTS = F_STRINGS + STRING_FIELDS.length;
const N_ATTEMPT = 0;
const N_SCHEMA_ID = 1;
const FACT_NUMBERS = 2;

const KIND_CODES = new Map<EventKind, number>(EVENT_KINDS.map((kind, i) => [kind, i]));
const STATE_CODES = new Map<TaskState, number>(TASK_STATES.map((state, i) => [state, i]));
const ENCODING_CODES = new Map<Encoding, number>(ENCODINGS.map((encoding, i) => [encoding, i]));
const DLQ_CODES = new Map<DlqReason, number>(DLQ_REASONS.map((reason, i) => [reason, i]));

/** The bytes of a record's key as sent (its text's UTF-8 when the bytes are not kept). */
function keyBytesOf(record: KafkaRecord): Uint8Array | null {
  if (record.keyBytes !== undefined) return record.keyBytes;
  return record.key === null ? null : Buffer.from(record.key, 'utf8');
}

/** A record's header names and value bytes as sent (from its texts when the bytes are not kept). */
function headerPairsOf(record: KafkaRecord): ReadonlyArray<readonly [string, Uint8Array]> {
  if (record.headerPairs !== undefined) return record.headerPairs;
  return Object.entries(record.headers).map(([name, value]) => [name, Buffer.from(value)] as const);
}

/** Packs records of one topic for a worker. Their bytes are copied: the result owns its memory and can be transferred. */
export function packRecords(topic: string, records: readonly KafkaRecord[]): PackedRecords {
  const count = records.length;
  const keys = new Array<Uint8Array | null>(count);
  const recordPairs = new Array<ReadonlyArray<readonly [string, Uint8Array]> | null>(count);
  const names: Buffer[] = [];
  let total = 0;
  let pairCount = 0;
  for (let i = 0; i < count; i += 1) {
    const record = records[i]!;
    const key = keyBytesOf(record);
    keys[i] = key;
    total += (key?.length ?? 0) + (record.value?.length ?? 0);
    if (!hasHeaders(record.headers) && (record.headerPairs === undefined || record.headerPairs.length === 0)) {
      recordPairs[i] = null;
      continue;
    }
    const pairs = headerPairsOf(record);
    recordPairs[i] = pairs;
    for (const [name, value] of pairs) {
      const nameBytes = Buffer.from(name, 'utf8');
      names.push(nameBytes);
      total += nameBytes.length + value.length;
    }
    pairCount += pairs.length;
  }
  const bytes = new Uint8Array(new ArrayBuffer(total));
  const layout = new Int32Array(count * LAYOUT_INTS);
  const pairLayout = new Int32Array(pairCount * PAIR_INTS);
  const timestamps = new Float64Array(count);
  const headers: PackedRecords['headers'] = [];
  let at = 0;
  let pair = 0;
  for (let i = 0; i < count; i += 1) {
    const record = records[i]!;
    const value = record.value;
    const key = keys[i]!;
    const base = i * LAYOUT_INTS;
    timestamps[i] = record.timestamp;
    layout[base] = at;
    layout[base + 1] = value === null ? -1 : value.length;
    if (value !== null) {
      bytes.set(value, at);
      at += value.length;
    }
    layout[base + 2] = at;
    layout[base + 3] = key === null ? -1 : key.length;
    if (key !== null) {
      bytes.set(key, at);
      at += key.length;
    }
    const pairs = recordPairs[i]!;
    layout[base + 4] = pair;
    layout[base + 5] = pairs === null ? 0 : pairs.length;
    if (pairs === null) continue;
    headers.push([i, record.headers]);
    for (const [, value] of pairs) {
      const name = names[pair]!;
      const p = pair * PAIR_INTS;
      pairLayout[p] = at;
      pairLayout[p + 1] = name.length;
      bytes.set(name, at);
      at += name.length;
      pairLayout[p + 2] = at;
      pairLayout[p + 3] = value.length;
      bytes.set(value, at);
      at += value.length;
      pair += 1;
    }
  }
  return {
    topic,
    count,
    bytes: bytes.buffer,
    layout: layout.buffer,
    pairs: pairLayout.buffer,
    timestamps: timestamps.buffer,
    headers,
  };
}

/**
 * The records a worker decodes and writes row tails for: what decoding reads (topic, key, headers,
 * value), the header bytes and the timestamp; no coordinates (partition 0, offset '0').
 */
export function unpackRecords(packed: PackedRecords): KafkaRecord[] {
  const bytes = Buffer.from(packed.bytes);
  const layout = new Int32Array(packed.layout);
  const pairLayout = new Int32Array(packed.pairs);
  const timestamps = new Float64Array(packed.timestamps);
  const records = new Array<KafkaRecord>(packed.count);
  const noHeaders = Object.create(null) as Record<string, string>;
  for (let i = 0; i < packed.count; i += 1) {
    const base = i * LAYOUT_INTS;
    const valueLength = layout[base + 1]!;
    const keyStart = layout[base + 2]!;
    const keyLength = layout[base + 3]!;
    const keyBytes = keyLength < 0 ? null : bytes.subarray(keyStart, keyStart + keyLength);
    const record: KafkaRecord = {
      topic: packed.topic,
      partition: 0,
      offset: '0',
      timestamp: timestamps[i]!,
      key: keyBytes === null ? null : keyBytes.toString('utf8'),
      keyBytes,
      headers: noHeaders,
      value: valueLength < 0 ? null : bytes.subarray(layout[base]!, layout[base]! + valueLength),
    };
    const firstPair = layout[base + 4]!;
    const pairCount = layout[base + 5]!;
    if (pairCount > 0) {
      const pairs = new Array<readonly [string, Buffer]>(pairCount);
      for (let k = 0; k < pairCount; k += 1) {
        const p = (firstPair + k) * PAIR_INTS;
        const nameStart = pairLayout[p]!;
        const valueStart = pairLayout[p + 2]!;
        pairs[k] = [
          bytes.toString('utf8', nameStart, nameStart + pairLayout[p + 1]!),
          bytes.subarray(valueStart, valueStart + pairLayout[p + 3]!),
        ];
      }
      record.headerPairs = pairs;
    }
    records[i] = record;
  }
  // As the tap makes them: without a prototype (a structured clone gives Object's), so that a
  // header named like one of Object's members is only ever the record's.
  for (const [i, headers] of packed.headers) records[i]!.headers = Object.assign(Object.create(null), headers);
  return records;
}

function hasHeaders(headers: Record<string, string>): boolean {
  for (const _name in headers) return true;
  return false;
}

/** Packs what was decoded from each record (worker side), with the audit row tails written for them if any. */
export function packFacts(events: readonly AgentEvent[], rowTails: PackedFacts['rowTails'] = null): PackedFacts {
  const ints = new Int32Array(events.length * FACT_INTS);
  const numbers = new Float64Array(events.length * FACT_NUMBERS);
  const strings: string[] = [];
  const indices = new Map<string, number>();
  const indexOf = (text: string | null): number => {
    if (text === null) return -1;
    let index = indices.get(text);
    if (index === undefined) {
      index = strings.length;
      strings.push(text);
      indices.set(text, index);
    }
    return index;
  };
  for (let i = 0; i < events.length; i += 1) {
    const event = events[i]!;
    const base = i * FACT_INTS;
    ints[base + F_KIND] = KIND_CODES.get(event.kind)!;
    ints[base + F_STATE] = event.state === null ? -1 : STATE_CODES.get(event.state)!;
    ints[base + F_ENCODING] = ENCODING_CODES.get(event.encoding)!;
    ints[base + F_DLQ_REASON] = event.dlqReason === null ? -1 : DLQ_CODES.get(event.dlqReason)!;
    for (let f = 0; f < STRING_FIELDS.length; f += 1) ints[base + F_STRINGS + f] = indexOf(event[STRING_FIELDS[f]!]);
    // Numbers as numbers: an attempt a producer declares may be any safe integer.
    numbers[i * FACT_NUMBERS + N_ATTEMPT] = event.attempt;
    numbers[i * FACT_NUMBERS + N_SCHEMA_ID] = event.schemaId ?? Number.NaN;
  }
  return { ints: ints.buffer, numbers: numbers.buffer, strings, rowTails };
}

/**
 * The events of `records` from a worker's facts (main side): the record's own fields from the
 * record, the rest from the facts. The same fields in the same order as RecordDecoder's events, so
 * that both have one shape.
 */
export function eventsFromFacts(records: readonly KafkaRecord[], facts: PackedFacts): AgentEvent[] {
  const ints = new Int32Array(facts.ints);
  const numbers = new Float64Array(facts.numbers);
  const strings = facts.strings;
  const tails = facts.rowTails === null ? null : Buffer.from(facts.rowTails.bytes);
  const tailEnds = facts.rowTails === null ? null : new Int32Array(facts.rowTails.ends);
  const text = (at: number): string | null => {
    const index = ints[at]!;
    return index < 0 ? null : strings[index]!;
  };
  const events = new Array<AgentEvent>(records.length);
  for (let i = 0; i < records.length; i += 1) {
    const record = records[i]!;
    const base = i * FACT_INTS;
    const s = base + F_STRINGS;
    const state = ints[base + F_STATE]!;
    const dlqReason = ints[base + F_DLQ_REASON]!;
    const schemaId = numbers[i * FACT_NUMBERS + N_SCHEMA_ID]!;
    events[i] = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: record.timestamp,
      key: record.key,
      keyBytes: record.keyBytes,
      headers: record.headers,
      headerPairs: record.headerPairs,
      producer: text(s)!,
      capability: text(s + 1)!,
      workflowId: text(s + 2),
      taskId: text(s + 3),
      messageId: text(s + 4),
      contextId: text(s + 5),
      rpcId: text(s + 6),
      method: text(s + 7),
      step: text(s + 8),
      kind: EVENT_KINDS[ints[base + F_KIND]!]!,
      state: state < 0 ? null : TASK_STATES[state]!,
      errorType: text(s + 9),
      attempt: numbers[i * FACT_NUMBERS + N_ATTEMPT]!,
      payloadBytes: record.value?.length ?? 0,
      encoding: ENCODINGS[ints[base + F_ENCODING]!]!,
      schemaId: Number.isNaN(schemaId) ? null : schemaId,
      parseError: text(s + 10),
      dlqReason: dlqReason < 0 ? null : DLQ_REASONS[dlqReason]!,
      body: null,
      auditRowTail: tails === null ? null : tails.subarray(i === 0 ? 0 : tailEnds![i - 1]!, tailEnds![i]!),
      value: record.value,
      latencyMs: null,
      retries: 0,
      timedOut: false,
      clockSkew: null,
      answeredBy: null,
    };
  }
  return events;
}
