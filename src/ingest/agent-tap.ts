// The Kafka tap: consumes every agent topic in agentwatch's own consumer group and hands each
// topic-partition batch to a handler; the batch's offsets are committed only after the handler
// resolved (every sink accepted). While the handler works, the partition is not fetched further:
// a slow sink holds the backlog in Kafka, not in memory.
//
// kafkajs resolves a topic regex only when it subscribes, so the tap lists the topics itself every
// INGEST_TOPIC_REFRESH_MS and, when the matching set changed, replaces its consumer with one
// subscribed to the new set (uncommitted work is simply read again by the new consumer).

import type { Admin, Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import type { IngestConfig } from '../config/index.js';
import type { KafkaRecord } from '../decode/index.js';
import type { Logger } from '../logger.js';
import { withKafkaRetry } from './kafka-retry.js';
import type { TopicFilter } from './topic-filter.js';

export interface TapBatch {
  topic: string;
  partition: number;
  /** At least one record, in offset order. */
  records: KafkaRecord[];
  /** True when this batch reaches the partition's high watermark (no backlog behind it). */
  caughtUp: boolean;
  /** Keeps the group membership alive while the handler waits on a slow sink. */
  heartbeat(): Promise<void>;
  /** False once the tap is stopping or the partition moved to another member: give up, it will be read again. */
  isActive(): boolean;
}

export type BatchHandler = (batch: TapBatch) => Promise<void>;

export interface TapStats {
  topics: number;
  /** Partitions paused now because they ran too far ahead of event time. */
  held: number;
  records: number;
  batches: number;
  commits: number;
  resubscriptions: number;
}

export interface TapOptions {
  groupId: string;
  sessionTimeoutMs: number;
  /** How long the first subscription retries transient Kafka errors (topics created a moment ago) before start fails. */
  startupTimeoutMs: number;
  ingest: IngestConfig;
  filter: TopicFilter;
  handler: BatchHandler;
  /**
   * Called when the consumer (re)joined the group, before any batch of the new assignment, with the
   * owned partitions ("topic:partition") that have records left to read; null if that could not be
   * determined.
   */
  onAssignment?: (backlogged: string[] | null) => void;
  /**
   * Asked after each batch: whether the partition ran too far ahead of event time and should wait
   * for the others (watermark alignment). Held partitions are paused, and resumed by releaseHeld().
   */
  holdBack?: (topic: string, partition: number) => boolean;
}

export class AgentTap {
  private admin: Admin | undefined;
  private consumer: Consumer | undefined;
  private topics: string[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private stopping = false;
  /** Settles once the current assignment's backlog has been announced; batches wait for it. */
  private assignmentAnnounced: Promise<void> = Promise.resolve();
  /** Group joins so far: work started for one join is dropped once another happened. */
  private joins = 0;
  private readonly counters = { records: 0, batches: 0, commits: 0, resubscriptions: 0 };
  /** Partitions paused by holdBack, as "topic:partition" → their coordinates. */
  private readonly held = new Map<string, { topic: string; partition: number }>();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: TapOptions,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to the matching topics (if any yet) and starts consuming; then keeps looking for new ones. */
  async start(): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    // Topics created a moment ago may have no leader yet: the first subscription retries what a
    // Kafka client should retry, and fails start only on access denied or after startupTimeoutMs.
    await withKafkaRetry('subscribing to the agent topics', () => this.resubscribeIfChanged(), {
      logger: this.logger,
      deadlineMs: this.options.startupTimeoutMs,
    });
    this.refreshTimer = setInterval(() => void this.refresh(), this.options.ingest.refreshIntervalMs);
  }

  /** Stops fetching, lets the batch in progress finish (and commit), and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.refreshTimer);
    await this.refreshing;
    await this.consumer?.disconnect();
    this.consumer = undefined;
    await this.admin?.disconnect();
  }

  subscribedTopics(): readonly string[] {
    return this.topics;
  }

  stats(): TapStats {
    return { topics: this.topics.length, held: this.held.size, ...this.counters };
  }

  /** Resumes the held partitions that event time has caught up with (after each batch, and on the clock tick). */
  releaseHeld(): void {
    const consumer = this.consumer;
    if (consumer === undefined || this.options.holdBack === undefined) return;
    for (const [key, { topic, partition }] of this.held) {
      if (this.options.holdBack(topic, partition)) continue;
      this.held.delete(key);
      consumer.resume([{ topic, partitions: [partition] }]);
    }
  }

  /** Lists topics and resubscribes when the matching set changed. Never throws; failures are logged and retried next time. */
  refresh(): Promise<void> {
    this.refreshing ??= this.refreshOnce().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    try {
      await this.resubscribeIfChanged();
    } catch (err) {
      this.logger.warn({ err }, 'could not refresh the agent topics; will try again at the next interval');
    }
  }

  /** Lists topics and resubscribes when the matching set changed; throws what Kafka threw. */
  private async resubscribeIfChanged(): Promise<void> {
    if (this.admin === undefined) return;
    const wanted = (await this.admin.listTopics()).filter(this.options.filter).sort();
    if (
      this.consumer !== undefined &&
      wanted.length === this.topics.length &&
      wanted.every((topic, i) => topic === this.topics[i])
    )
      return;
    if (this.consumer === undefined && wanted.length === 0 && this.topics.length === 0) return;
    const added = wanted.filter((topic) => !this.topics.includes(topic));
    const removed = this.topics.filter((topic) => !wanted.includes(topic));
    this.logger.info({ added, removed, topics: wanted.length }, 'agent topics changed; resubscribing');
    await this.subscribe(wanted);
  }

  /** Replaces the consumer with one subscribed to `topics`. On failure nothing is subscribed, so the next refresh tries again. */
  private async subscribe(topics: string[]): Promise<void> {
    const t0 = Date.now();
    await this.consumer?.disconnect();
    this.consumer = undefined;
    this.topics = [];
    this.logger.debug({ ms: Date.now() - t0 }, 'previous consumer disconnected');
    if (topics.length === 0 || this.stopping) return;
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: Math.min(3_000, Math.floor(this.options.sessionTimeoutMs / 3)),
      maxBytesPerPartition: this.options.ingest.maxBytesPerPartition,
      // A fetch waits at most this long for new records; a resubscription waits for the fetch in flight.
      maxWaitTimeInMs: 1_000,
    });
    this.held.clear(); // a new consumer has nothing paused
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // The assignment may have changed: nothing stays held across it.
      for (const { topic, partition } of this.held.values()) consumer.resume([{ topic, partitions: [partition] }]);
      this.held.clear();
      const partitions = Object.values(payload.memberAssignment).reduce((n, p) => n + p.length, 0);
      this.logger.info({ groupId: this.options.groupId, partitions, ms: Date.now() - t0 }, 'joined the consumer group');
      this.joins += 1;
      this.assignmentAnnounced = this.pinUnread(consumer, payload.memberAssignment, this.joins).then(() =>
        this.announceBacklog(payload.memberAssignment),
      );
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error({ err: payload.error, restart: payload.restart }, 'kafka consumer crashed');
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: this.options.ingest.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.ingest.partitionsConcurrently,
        eachBatch: (payload) => this.onBatch(consumer, payload),
      });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
    this.consumer = consumer;
    this.topics = topics;
    this.counters.resubscriptions += 1;
    this.logger.debug({ ms: Date.now() - t0 }, 'subscribed');
  }

  /**
   * INGEST_FROM_BEGINNING=false: for each assigned partition the group has no offset for, starts at
   * its end now and commits that, before reading. Left to the consumer, "latest" is resolved again at
   * every start until a first commit, so records produced while agentwatch was down after a start
   * that read nothing (or crashed before its first commit) would never be read.
   */
  private async pinUnread(consumer: Consumer, assignment: Record<string, number[]>, join: number): Promise<void> {
    if (this.options.ingest.fromBeginning || this.admin === undefined) return;
    const topics = Object.keys(assignment).filter((t) => (assignment[t] ?? []).length > 0);
    if (topics.length === 0) return;
    try {
      const committed = await this.admin.fetchOffsets({ groupId: this.options.groupId, topics });
      const pins: Array<{ topic: string; partition: number; offset: string }> = [];
      for (const { topic, partitions } of committed) {
        const unset = new Set(
          partitions
            .filter((p) => p.offset === '-1' && (assignment[topic] ?? []).includes(p.partition))
            .map((p) => p.partition),
        );
        if (unset.size === 0) continue;
        for (const end of await this.admin.fetchTopicOffsets(topic))
          if (unset.has(end.partition)) pins.push({ topic, partition: end.partition, offset: end.high });
      }
      // A rebalance meanwhile: the partitions may be another member's now, whose offsets this must not move.
      if (pins.length === 0 || join !== this.joins) return;
      for (const pin of pins) consumer.seek(pin);
      await consumer.commitOffsets(pins);
      this.logger.info(
        { partitions: pins.length },
        'starting at the end of partitions never read (INGEST_FROM_BEGINNING=false)',
      );
    } catch (err) {
      this.logger.warn({ err }, 'could not pin the start of partitions never read; the consumer starts at their end');
    }
  }

  private async onBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    // oxlint-disable-next-line typescript/unbound-method -- kafkajs hands closures, not methods
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    await this.assignmentAnnounced;
    // Fetched before the join's seek (INGEST_FROM_BEGINNING=false) moved the partition: read it again from there.
    if (isStale()) return;
    const messages = batch.messages;
    const last = messages[messages.length - 1];
    if (last === undefined) return;
    const records = messages.map((message) => toRecord(batch.topic, batch.partition, message));
    const next = (BigInt(last.offset) + 1n).toString();
    await this.options.handler({
      topic: batch.topic,
      partition: batch.partition,
      records,
      caughtUp: BigInt(next) >= BigInt(batch.highWatermark),
      heartbeat,
      isActive: () => isRunning() && !isStale() && !this.stopping,
    });
    this.counters.records += records.length;
    this.counters.batches += 1;
    // Every sink accepted these records: commit, even while stopping (that is the drain). A stale
    // batch's partition belongs to another member now; the broker would refuse the commit.
    if (isStale()) return;
    resolveOffset(last.offset);
    await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
    this.counters.commits += 1;
    if (this.options.holdBack?.(batch.topic, batch.partition) === true && !this.stopping) {
      consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
      this.held.set(`${batch.topic}:${batch.partition}`, { topic: batch.topic, partition: batch.partition });
    }
    this.releaseHeld();
    await heartbeat();
  }

  /** Finds which assigned partitions have records left (committed offset, or the start, below the high watermark). */
  private async announceBacklog(assignment: Record<string, number[]>): Promise<void> {
    if (this.options.onAssignment === undefined || this.admin === undefined) return;
    try {
      const progress = await this.progress(Object.keys(assignment));
      const backlogged = progress
        .filter((p) => (assignment[p.topic] ?? []).includes(p.partition) && p.high > p.next)
        .map((p) => `${p.topic}:${p.partition}`);
      this.options.onAssignment(backlogged);
    } catch (err) {
      this.logger.warn(
        { err },
        'could not read the backlog of the new assignment; task timeouts may fire early while catching up',
      );
      this.options.onAssignment(null);
    }
  }

  /** Records not yet processed (committed) per partition of every tapped topic, from the Kafka admin API. */
  async consumerLag(): Promise<Array<{ topic: string; partition: number; lag: number }>> {
    const progress = await this.progress([...this.topics]);
    return progress.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      lag: Number(p.high > p.next ? p.high - p.next : 0n),
    }));
  }

  /** For each partition of `topics`: the next offset the group will process, and the high watermark. */
  private async progress(
    topics: readonly string[],
  ): Promise<Array<{ topic: string; partition: number; next: bigint; high: bigint }>> {
    if (this.admin === undefined || topics.length === 0) return [];
    const committed = await this.admin.fetchOffsets({ groupId: this.options.groupId, topics: [...topics] });
    const result: Array<{ topic: string; partition: number; next: bigint; high: bigint }> = [];
    for (const topic of topics) {
      const done = new Map(
        committed.find((c) => c.topic === topic)?.partitions.map((p) => [p.partition, p.offset]) ?? [],
      );
      for (const end of await this.admin.fetchTopicOffsets(topic)) {
        const committedOffset = done.get(end.partition) ?? '-1';
        const next =
          committedOffset !== '-1' ? committedOffset : this.options.ingest.fromBeginning ? end.low : end.high;
        result.push({ topic, partition: end.partition, next: BigInt(next), high: BigInt(end.high) });
      }
    }
    return result;
  }
}

/** The record as decode takes it, from a kafkajs message. */
export function toRecord(topic: string, partition: number, message: KafkaMessage): KafkaRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: Number(message.timestamp),
    key: message.key === null ? null : message.key.toString('utf8'),
    keyBytes: message.key,
    headers: headerStrings(message.headers),
    headerPairs: headerBytes(message.headers),
    value: message.value,
  };
}

/**
 * Each header's name and value bytes, a repeated header once per value in the order kafkajs read
 * them (the audit row's form); undefined when there are none.
 */
export function headerBytes(headers: IHeaders | undefined): Array<readonly [string, Buffer]> | undefined {
  if (headers === undefined) return undefined;
  let pairs: Array<readonly [string, Buffer]> | undefined;
  for (const [name, value] of Object.entries(headers) as Array<
    [string, Buffer | string | null | undefined | unknown[]]
  >) {
    // Kafka allows a null header value (kafkajs hands it over as null): kept as an empty value.
    if (value === undefined) continue;
    pairs ??= [];
    if (value === null) {
      pairs.push([name, Buffer.alloc(0)]);
      continue;
    }
    if (!Array.isArray(value)) {
      pairs.push([name, Buffer.isBuffer(value) ? value : Buffer.from(value)]);
      continue;
    }
    // As in headerStrings: only Buffers and strings are the record's values.
    for (const v of value as unknown[]) {
      if (Buffer.isBuffer(v)) pairs.push([name, v]);
      else if (typeof v === 'string') pairs.push([name, Buffer.from(v)]);
    }
  }
  return pairs;
}

/**
 * Header names and values as strings. A null-prototype map: a header named `__proto__` or
 * `constructor` is a header like any other (a plain object would drop the first, silently).
 */
export function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  if (headers === undefined) return out;
  for (const [name, value] of Object.entries(headers) as Array<
    [string, Buffer | string | null | undefined | unknown[]]
  >) {
    if (value === undefined) continue;
    if (value === null) {
      out[name] = ''; // a null header value (Kafka allows it)
      continue;
    }
    if (!Array.isArray(value)) {
      out[name] = value.toString();
      continue;
    }
    // kafkajs collects a repeated header into an array, testing `obj[name] === undefined` on a plain
    // object: for `constructor` or `__proto__` that finds Object's own, which lands in the array.
    // Only the header's values (Buffers, or strings) are the record's.
    out[name] = value
      .filter((v: unknown) => Buffer.isBuffer(v) || typeof v === 'string')
      .map((v) => v.toString())
      .join(',');
  }
  return out;
}
