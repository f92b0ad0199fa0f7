// Kafka records → AgentEvents, one event per record, never throwing for bad data. The format is chosen
// per record: Confluent wire format (magic byte 0 + 4-byte schema id) → Avro (or JSON Schema) via the
// registry; a JSON object → A2A JSON-RPC or the task envelope; anything else → an 'opaque' event with
// a parseError. Schema ids are resolved once per batch, so decoding itself is synchronous.

import type { Type as AvroType } from 'avsc';
import { EMPTY_REASON, TOMBSTONE_REASON, type AgentEvent, type DlqReason, type Encoding } from './agent-event.js';
import { interpretJsonRpc, isJsonRpc } from './a2a-jsonrpc.js';
import type { KafkaRecord } from './kafka-record.js';
import { attemptNumber, emptySemantics, isObject, type Semantics } from './semantics.js';
import { interpretEnvelope } from './task-envelope.js';

/** A schema the registry resolved for an id, or undefined when the registry does not know the id. */
export type RegisteredSchema = { format: 'avro'; type: AvroType } | { format: 'json' } | { format: 'protobuf' };

/** Resolves schema ids; throws a retryable error when the registry cannot be asked (not for an unknown id). */
export interface SchemaSource {
  schemaById(id: number): Promise<RegisteredSchema | undefined>;
}

export interface DecoderOptions {
  /** Values larger than this are not parsed: an opaque event and a DLQ copy. */
  maxPayloadBytes: number;
  /** Most schema ids remembered (known and unknown); the cache is cleared when it is full. */
  maxCachedSchemas?: number;
  /**
   * Keep a JSON value's parse tree on the event (default true). Without it, `body` is null once the
   * fields are read, so a batch's trees die young instead of living until its insert returns: the
   * service keeps them only when redaction or the events file needs them (Avro bodies always stay:
   * the audit row stores them as JSON).
   */
  keepJsonBody?: boolean;
}

/** agent.<kind>.<capability>: the topic convention of A2A-over-Kafka fleets. */
const TOPIC_CONVENTION = /^[^.]+\.(tasks|results|status|events)\.(.+)$/;

const ATTEMPT_HEADERS = ['a2a-attempt', 'attempt', 'delivery-attempt'] as const;
const RETRY_COUNT_HEADERS = ['retry-count', 'x-retry-count', 'a2a-retry-count'] as const;
const PRODUCER_HEADERS = ['agent-id', 'a2a-agent', 'x-agent-id', 'producer'] as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Turns a batch's records into events, one per record, in order (RecordDecoder, or the ingest workers). */
export interface BatchDecoder {
  decode(records: readonly KafkaRecord[]): Promise<AgentEvent[]>;
}

export class RecordDecoder implements BatchDecoder {
  private readonly schemas = new Map<number, RegisteredSchema | null>();
  private readonly maxCachedSchemas: number;

  constructor(
    private readonly source: SchemaSource,
    private readonly options: DecoderOptions,
  ) {
    this.maxCachedSchemas = options.maxCachedSchemas ?? 10_000;
  }

  /** One event per record, in order. Rejects only when the schema registry is unreachable (retryable). */
  async decode(records: readonly KafkaRecord[]): Promise<AgentEvent[]> {
    await this.resolveSchemaIds(records);
    const events = records.map((record) => this.decodeRecord(record));
    if (this.options.keepJsonBody === false)
      for (const event of events) if (event.encoding === 'json' || event.encoding === 'a2a-jsonrpc') event.body = null;
    return events;
  }

  private async resolveSchemaIds(records: readonly KafkaRecord[]): Promise<void> {
    const missing = new Set<number>();
    for (const record of records) {
      const id = confluentSchemaId(record.value, this.options.maxPayloadBytes);
      if (id !== null && !this.schemas.has(id)) missing.add(id);
    }
    if (missing.size === 0) return;
    if (this.schemas.size + missing.size > this.maxCachedSchemas) this.schemas.clear();
    for (const id of missing) this.schemas.set(id, (await this.source.schemaById(id)) ?? null);
  }

  /** Decodes one record whose schema id, if any, is already resolved. */
  decodeRecord(record: KafkaRecord): AgentEvent {
    const value = record.value;
    if (value === null) return buildEvent(record, emptySemantics(), 'tombstone', { parseError: TOMBSTONE_REASON });
    if (value.length === 0) return buildEvent(record, emptySemantics(), 'empty', { parseError: EMPTY_REASON });
    if (value.length > this.options.maxPayloadBytes) {
      return buildEvent(record, emptySemantics(), 'opaque', {
        parseError: `payload of ${value.length} bytes exceeds INGEST_MAX_PAYLOAD_BYTES (${this.options.maxPayloadBytes})`,
        dlqReason: 'oversized',
      });
    }
    const schemaId = confluentSchemaId(value, this.options.maxPayloadBytes);
    if (schemaId !== null) return this.decodeFramed(record, value, schemaId);
    return decodeJson(record, value, null);
  }

  private decodeFramed(record: KafkaRecord, value: Buffer, schemaId: number): AgentEvent {
    const schema = this.schemas.get(schemaId);
    if (schema === undefined || schema === null) {
      return buildEvent(record, emptySemantics(), 'opaque', {
        schemaId,
        parseError: `schema id ${schemaId} is not in the schema registry`,
        dlqReason: 'unknown-schema',
      });
    }
    if (schema.format === 'json') return decodeJson(record, value.subarray(5), schemaId);
    if (schema.format === 'protobuf') {
      return buildEvent(record, emptySemantics(), 'opaque', {
        schemaId,
        parseError: `schema id ${schemaId} is Protobuf, which agentwatch does not decode`,
      });
    }
    let body: unknown;
    try {
      body = schema.type.fromBuffer(value.subarray(5));
    } catch (err) {
      return buildEvent(record, emptySemantics(), 'opaque', {
        schemaId,
        parseError: `Avro decoding with schema id ${schemaId} failed: ${avroErrorKind(err)}`,
        dlqReason: 'avro-decode-failed',
      });
    }
    const semantics = isObject(body) ? interpretEnvelope(body) : emptySemantics();
    return buildEvent(record, semantics, 'avro', { schemaId, body });
  }
}

/** The schema id of a Confluent-framed value, or null when the value is not framed. */
export function confluentSchemaId(value: Buffer | null, maxPayloadBytes: number): number | null {
  if (value === null || value.length < 5 || value.length > maxPayloadBytes || value[0] !== 0) return null;
  return value.readUInt32BE(1);
}

function decodeJson(record: KafkaRecord, bytes: Buffer, schemaId: number | null): AgentEvent {
  let textValue: string;
  try {
    textValue = utf8.decode(bytes);
  } catch {
    return buildEvent(record, emptySemantics(), 'opaque', {
      schemaId,
      parseError: 'value is neither Confluent-framed nor valid UTF-8',
      dlqReason: 'invalid-utf8',
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(textValue);
  } catch (err) {
    return buildEvent(record, emptySemantics(), 'opaque', {
      schemaId,
      parseError: jsonParseError(err),
      dlqReason: 'invalid-json',
    });
  }
  if (!isObject(body)) return buildEvent(record, emptySemantics(), 'json', { schemaId, body });
  if (isJsonRpc(body)) return buildEvent(record, interpretJsonRpc(body), 'a2a-jsonrpc', { schemaId, body });
  return buildEvent(record, interpretEnvelope(body), 'json', { schemaId, body });
}

/**
 * Why JSON.parse refused a value, without quoting it: V8's messages quote the payload (`Unexpected
 * token 'x', "{"secret": x…" is not valid JSON`), and a parse error is stored, logged and copied to
 * the DLQ, where redaction cannot reach it. Only the position is kept.
 */
function jsonParseError(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position !== undefined) return `value is not valid JSON (at character ${position})`;
  if (/end of (JSON )?input|Unterminated/i.test(message)) return 'value is not valid JSON (it ends early)';
  return 'value is not valid JSON';
}

/** avsc's decoding errors name the failure (truncated buffer, trailing data, invalid union index) without values; anything longer is cut. */
function avroErrorKind(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return /^[\w\s:-]{1,80}$/.test(message) ? message : 'the value does not match the schema';
}

interface EventExtras {
  schemaId?: number | null;
  body?: unknown;
  parseError?: string;
  dlqReason?: DlqReason;
}

function buildEvent(record: KafkaRecord, semantics: Semantics, encoding: Encoding, extras: EventExtras): AgentEvent {
  const headers = record.headers;
  const capability = capabilityOfTopic(record.topic) ?? semantics.capability ?? 'unknown';
  const producer = semantics.producer ?? firstHeader(headers, PRODUCER_HEADERS);
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key,
    keyBytes: record.keyBytes,
    headers,
    headerPairs: record.headerPairs,
    producer: producer ?? capability,
    capability,
    workflowId: semantics.workflowId ?? headers['workflow-id'] ?? (semantics.kind === 'unknown' ? null : record.key),
    taskId: semantics.taskId ?? headers['a2a-task-id'] ?? null,
    messageId: semantics.messageId,
    contextId: semantics.contextId,
    rpcId: semantics.rpcId,
    method: semantics.method,
    step: semantics.step ?? headers['a2a-step'] ?? null,
    kind: semantics.kind,
    state: semantics.state,
    errorType: semantics.errorType,
    attempt: Math.max(1, semantics.attempt ?? 1, headerAttempt(headers)),
    payloadBytes: record.value?.length ?? 0,
    encoding,
    schemaId: extras.schemaId ?? null,
    parseError: extras.parseError ?? null,
    dlqReason: extras.dlqReason ?? null,
    body: extras.body ?? null,
    auditRowTail: null,
    value: record.value,
    latencyMs: null,
    retries: 0,
    timedOut: false,
    clockSkew: null,
    answeredBy: null,
  };
}

/** The last topic read and its capability: the records of a batch share one topic (and one string). */
let lastTopic = '';
let lastCapability: string | null = null;

/** The capability a topic's name gives (agent.<kind>.<capability>), or null; one string per topic, not per record. */
function capabilityOfTopic(topic: string): string | null {
  if (topic !== lastTopic) {
    lastTopic = topic;
    lastCapability = TOPIC_CONVENTION.exec(topic)?.[2] ?? null;
  }
  return lastCapability;
}

function firstHeader(headers: Record<string, string>, names: readonly string[]): string | null {
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined && value !== '') return value;
  }
  return null;
}

/** Attempt from headers: a 1-based attempt number, or a 0-based retry count. */
function headerAttempt(headers: Record<string, string>): number {
  const attempt = attemptNumber(firstHeader(headers, ATTEMPT_HEADERS));
  if (attempt !== null) return attempt;
  const retries = firstHeader(headers, RETRY_COUNT_HEADERS);
  return retries !== null && /^\d+$/.test(retries) ? Number(retries) + 1 : 1;
}
