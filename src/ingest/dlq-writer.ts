// Copies records that cannot be decoded to the dead-letter topic: same key and value, original
// headers, plus where the record came from and why it could not be decoded.
//
// A copy can never wedge ingestion on the broker's size limits:
// - copies go out in produce requests that fit the DLQ topic's max.message.bytes (read from the
//   topic's effective config at start, DlqWriter.create), estimated with Kafka's record format;
// - a copy that cannot fit even alone (a value at the payload limit, huge headers) is replaced by a
//   reference record: the source coordinates, the size and SHA-256 of the value, and the reason.
//   The full value stays in the audit store, where the reference's coordinates find it;
// - should the broker still answer MESSAGE_TOO_LARGE (a limit lowered since, compression), the
//   request is halved until it fits, down to references.
// A delivery remembers which requests were acknowledged, so a retry after a transient error sends
// only the rest (DlqDelivery).

import { createHash } from 'node:crypto';
import type { Admin, ConfigResourceTypes, Message, Producer } from 'kafkajs';
import type { UnparsedPayloadPolicy } from '../config/index.js';
import type { AgentEvent } from '../decode/index.js';
import { hasKafkaErrorType } from './kafka-retry.js';

/** The broker's answers to a request or record over its size limits. */
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

export const DLQ_HEADERS = {
  reason: 'agentwatch-dlq-reason',
  error: 'agentwatch-dlq-error',
  topic: 'agentwatch-source-topic',
  partition: 'agentwatch-source-partition',
  offset: 'agentwatch-source-offset',
  timestamp: 'agentwatch-source-timestamp',
  /** Set on a reference record, which stands for a copy: why (too-large, or the AUDIT_UNPARSED_PAYLOAD policy hash-only or drop-value). */
  reference: 'agentwatch-dlq-reference',
} as const;

/** ConfigResourceTypes.TOPIC: kafkajs's CommonJS build does not expose the enum as an ES named export. */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
/** Kafka's default max.message.bytes, used only when the topic's config cannot be read. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;
/** A record batch's own header (magic v2), and the most a record's framing adds (varints, attributes, deltas). */
const BATCH_OVERHEAD_BYTES = 61;
const RECORD_OVERHEAD_BYTES = 40;
/** Per header: its two varint lengths. */
const HEADER_OVERHEAD_BYTES = 10;
/** The parse error copied into a header: long enough to explain, short enough not to matter. */
const ERROR_HEADER_CHARS = 1_000;
/** A reference keeps the record's key only up to this size. */
const REFERENCE_KEY_BYTES = 1_024;

export interface DlqStats {
  /** Copies acknowledged (full copies and references). */
  written: number;
  /** Copies replaced by a reference record because they could not fit the topic's limit. */
  references: number;
  /** Produce requests the broker refused as too large, and that were split. */
  splits: number;
}

/** The copies of one batch's dead records, sent request by request; retrying sends only what was not acknowledged. */
export class DlqDelivery {
  private next = 0;

  constructor(
    private readonly writer: DlqWriter,
    private readonly requests: Message[][],
  ) {}

  get done(): boolean {
    return this.next >= this.requests.length;
  }

  /** Sends the requests not yet acknowledged; throws on the first that fails (call again to retry it). */
  async send(): Promise<void> {
    while (this.next < this.requests.length) {
      await this.writer.sendFitting(this.requests[this.next]!);
      this.next += 1;
    }
  }
}

export class DlqWriter {
  private readonly counters: DlqStats = { written: 0, references: 0, splits: 0 };
  /** The dead record each prepared message stands for, so that a copy the broker refuses alone becomes its reference. */
  private readonly sourceOf = new WeakMap<Message, AgentEvent>();
  /** Largest record batch the topic accepts, less the batch's own header. */
  private readonly budget: number;

  constructor(
    private readonly producer: Producer,
    readonly topic: string,
    readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
    /** AUDIT_UNPARSED_PAYLOAD: under hash-only or drop-value a dead record's value is not copied; a reference stands for it. */
    private readonly unparsed: UnparsedPayloadPolicy = 'store',
  ) {
    this.budget = maxMessageBytes - BATCH_OVERHEAD_BYTES;
  }

  /** A writer sized by the DLQ topic's effective max.message.bytes (the topic's own, or the broker's default it inherits). */
  static async create(
    producer: Producer,
    admin: Admin,
    topic: string,
    unparsed: UnparsedPayloadPolicy = 'store',
  ): Promise<DlqWriter> {
    return new DlqWriter(producer, topic, await topicMaxMessageBytes(admin, topic), unparsed);
  }

  /** The copies of `events`, grouped into requests that fit the topic (references for copies that cannot). */
  prepare(events: readonly AgentEvent[]): DlqDelivery {
    const requests: Message[][] = [];
    let request: Message[] = [];
    let size = 0;
    for (const event of events) {
      let message = this.unparsed === 'store' ? copyOf(event) : referenceOf(event, this.unparsed);
      let bytes = messageBytes(message);
      if (bytes > this.budget) {
        message = referenceOf(event, 'too-large');
        bytes = messageBytes(message);
        this.counters.references += 1;
      }
      if (size + bytes > this.budget && request.length > 0) {
        requests.push(request);
        request = [];
        size = 0;
      }
      this.sourceOf.set(message, event);
      request.push(message);
      size += bytes;
    }
    if (request.length > 0) requests.push(request);
    return new DlqDelivery(this, requests);
  }

  /** Resolves once the broker acknowledged every copy (acks from all in-sync replicas). */
  async write(events: readonly AgentEvent[]): Promise<void> {
    await this.prepare(events).send();
  }

  /** Sends one request; one the broker finds too large is halved until it fits, a single copy replaced by its reference. */
  async sendFitting(messages: Message[]): Promise<void> {
    try {
      await this.producer.send({ topic: this.topic, acks: -1, messages });
      this.counters.written += messages.length;
    } catch (err) {
      if (!hasKafkaErrorType(err, TOO_LARGE)) throw err;
      this.counters.splits += 1;
      if (messages.length > 1) {
        const half = Math.ceil(messages.length / 2);
        await this.sendFitting(messages.slice(0, half));
        await this.sendFitting(messages.slice(half));
        return;
      }
      const only = messages[0]!;
      if (only.headers?.[DLQ_HEADERS.reference] !== undefined) throw err; // even the reference does not fit: a broker limit below any record
      this.counters.references += 1;
      await this.sendFitting([referenceOf(this.sourceOf.get(only)!, 'too-large')]);
    }
  }

  count(): number {
    return this.counters.written;
  }

  stats(): DlqStats {
    return { ...this.counters };
  }
}

/** The effective max.message.bytes of a topic; Kafka's default when it cannot be read. */
async function topicMaxMessageBytes(admin: Admin, topic: string): Promise<number> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ['max.message.bytes'] }],
  });
  const value = described.resources[0]?.configEntries.find(
    (entry) => entry.configName === 'max.message.bytes',
  )?.configValue;
  const bytes = Number(value);
  return Number.isSafeInteger(bytes) && bytes > BATCH_OVERHEAD_BYTES + RECORD_OVERHEAD_BYTES
    ? bytes
    : DEFAULT_MAX_MESSAGE_BYTES;
}

function sourceHeaders(event: AgentEvent): Record<string, string> {
  return {
    [DLQ_HEADERS.reason]: event.dlqReason ?? 'unknown',
    [DLQ_HEADERS.error]: (event.parseError ?? '').slice(0, ERROR_HEADER_CHARS),
    [DLQ_HEADERS.topic]: event.topic,
    [DLQ_HEADERS.partition]: String(event.partition),
    [DLQ_HEADERS.offset]: event.offset,
    [DLQ_HEADERS.timestamp]: String(event.timestamp),
  };
}

function copyOf(event: AgentEvent): Message {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(event.headers)) headers[name] = value;
  Object.assign(headers, sourceHeaders(event));
  return { key: event.key, value: event.value, headers };
}

/**
 * A record standing for a dead record's copy: where the original is, its size, its SHA-256 (unless
 * the policy drops even that), and why it is dead. `why`: too-large (the copy cannot fit the topic),
 * or the AUDIT_UNPARSED_PAYLOAD policy that keeps the value out (hash-only, drop-value).
 */
function referenceOf(event: AgentEvent, why: 'too-large' | 'hash-only' | 'drop-value'): Message {
  const value = event.value ?? Buffer.alloc(0);
  const key = event.key !== null && Buffer.byteLength(event.key) <= REFERENCE_KEY_BYTES ? event.key : null;
  return {
    key,
    value: JSON.stringify({
      reference: why,
      topic: event.topic,
      partition: event.partition,
      offset: event.offset,
      timestamp: event.timestamp,
      reason: event.dlqReason ?? 'unknown',
      size: value.length,
      ...(why === 'drop-value' ? {} : { sha256: createHash('sha256').update(value).digest('hex') }),
    }),
    headers: { ...sourceHeaders(event), [DLQ_HEADERS.reference]: why },
  };
}

/** Bytes one record takes in a record batch, at most (Kafka's v2 record format, uncompressed). */
export function messageBytes(message: Message): number {
  let bytes = RECORD_OVERHEAD_BYTES + byteLength(message.key) + byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    bytes += HEADER_OVERHEAD_BYTES + Buffer.byteLength(name);
    if (Array.isArray(value)) for (const v of value) bytes += HEADER_OVERHEAD_BYTES + byteLength(v);
    else bytes += byteLength(value);
  }
  return bytes;
}

function byteLength(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}
