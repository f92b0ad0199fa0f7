// The Kafka tap: consumes every agent topic in agentwatch's own consumer group and hands each
// topic-partition batch to a handler. The handler resolves once the batch went through the
// synchronous stages (decode, correlate, handed to every sink) with a promise that settles once the
// sinks hold it durably; the tap then reads on, and commits the batch's offsets when that promise
// settles, in offset order per partition. Batches read and not yet committed are bounded
// (INGEST_MAX_PENDING_RECORDS): at the bound the tap waits, so a slow sink holds the backlog in
// Kafka, not in memory, while below it the next batches are decoded as an insert runs.
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
  /**
   * In offset order. None when every record of the fetched range was filtered out (an aborted
   * transaction, commit markers): the partition still moved on, and may now be caught up.
   */
  records: KafkaRecord[];
  /** True when this batch reaches the partition's high watermark (no backlog behind it). */
  caughtUp: boolean;
  /** Keeps the group membership alive while the handler waits on a slow sink. */
  heartbeat(): Promise<void>;
  /** False once the tap is stopping or the partition moved to another member: give up, it will be read again. */
  isActive(): boolean;
}

/** kafkajs's closures that tell whether a batch is still this consumer's, and keep its membership alive. */
interface BatchLiveness {
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  isStale(): boolean;
}

/** A batch through the synchronous stages; `durable` settles once every sink holds it (rejects if it was abandoned). */
export interface HandledBatch {
  durable: Promise<void>;
}

export type BatchHandler = (batch: TapBatch) => Promise<HandledBatch>;

export interface TapStats {
  topics: number;
  /** Partitions paused now because they ran too far ahead of event time. */
  held: number;
  records: number;
  batches: number;
  commits: number;
  /** Records handed to the handler whose offsets are not committed yet. */
  pendingRecords: number;
  /** Times the tap waited because INGEST_MAX_PENDING_RECORDS records were pending. */
  pendingWaits: number;
  resubscriptions: number;
  /** Fetched ranges that held no record to deliver (aborted transactions, commit markers only). */
  filteredRanges: number;
  /**
   * Offsets the topics' retention deleted before agentwatch read them (at a group join, or when a
   * fetch ran out of range while agentwatch lagged): records never audited.
   */
  offsetsLost: number;
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
  /** Called when the tap waits for pending batches (at the bound, or draining): buffering sinks should write now. */
  flushNow?: () => void;
}

/** A batch handed over and not yet committed. */
interface PendingBatch {
  records: number;
  /** Settles once the batch's offsets were committed, or once committing was given up. */
  settled: Promise<void>;
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
  /** Resolved once the first assignment is settled (its never-read partitions pinned): reading starts there. */
  private firstAssigned: () => void = () => undefined;
  private readonly firstAssignment = new Promise<void>((resolve) => (this.firstAssigned = resolve));
  /** Group joins so far: work started for one join is dropped once another happened. */
  private joins = 0;
  private readonly counters = {
    records: 0,
    batches: 0,
    commits: 0,
    pendingWaits: 0,
    resubscriptions: 0,
    filteredRanges: 0,
    offsetsLost: 0,
  };
  /** Per "topic:partition": the offset after the last range handed over since the latest join (where a reset lost records from). */
  private readonly readUpTo = new Map<string, bigint>();
  /** Batches handed over and not yet committed, oldest first. */
  private readonly pending: PendingBatch[] = [];
  private pendingRecords = 0;
  /** Per "join:topic:partition": settles once its latest pending batch is committed or given up; true when it and every earlier batch are stored. */
  private readonly commitTurns = new Map<string, Promise<boolean>>();
  /** Per "topic:partition", kafkajs's liveness closures of its latest batch of the join livenessJoin (pendingHooks). */
  private readonly liveness = new Map<string, { latest: BatchLiveness | undefined; pending: number }>();
  private livenessJoin = -1;
  /** eachBatch calls under way (stop waits for them before draining). */
  private handling = 0;
  /** stop() or a resubscription is draining: every partition stays paused. */
  private draining = false;
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

  /** Stops fetching, lets the batches in progress finish and commits them (the drain), and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.refreshTimer);
    await this.refreshing;
    await this.drain();
    // The join's admin requests may still run (thousands of partitions take seconds; the pipeline
    // waits for none of them while the partitions are paused): ended before the admin disconnects,
    // or kafkajs connects it again for them, which kept the process alive after "stopped".
    await this.assignmentAnnounced;
    await this.consumer?.disconnect();
    this.consumer = undefined;
    await this.admin?.disconnect();
  }

  /** Resolves once the tap has its first assignment and knows where it starts reading each partition. */
  async assigned(): Promise<void> {
    await this.firstAssignment;
  }

  subscribedTopics(): readonly string[] {
    return this.topics;
  }

  stats(): TapStats {
    return { topics: this.topics.length, held: this.held.size, pendingRecords: this.pendingRecords, ...this.counters };
  }

  /** Resumes the held partitions that event time has caught up with (after each batch, and on the clock tick). */
  releaseHeld(): void {
    const consumer = this.consumer;
    // While draining every partition stays paused (a resumed one would be read again).
    if (consumer === undefined || this.options.holdBack === undefined || this.draining) return;
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
    if (this.consumer !== undefined) await this.drain();
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
      if (!this.draining)
        for (const { topic, partition } of this.held.values()) consumer.resume([{ topic, partitions: [partition] }]);
      this.held.clear();
      const partitions = Object.values(payload.memberAssignment).reduce((n, p) => n + p.length, 0);
      this.logger.info({ groupId: this.options.groupId, partitions, ms: Date.now() - t0 }, 'joined the consumer group');
      this.joins += 1;
      const join = this.joins;
      this.readUpTo.clear(); // reading starts again from the committed offsets
      // Nothing is fetched until where each partition starts is settled and announced. A fetch before
      // it starts where kafkajs guesses (the end, or an out-of-range reset that kafkajs commits by
      // itself), and a range kafkajs resolves without eachBatch would reach the event clock before
      // the backlog is announced, which then waits for it again.
      const assigned = Object.entries(payload.memberAssignment)
        .filter(([, partitions]) => partitions.length > 0)
        .map(([topic, partitions]) => ({ topic, partitions }));
      if (assigned.length > 0) consumer.pause(assigned);
      this.assignmentAnnounced = this.pinStarts(consumer, payload.memberAssignment, join)
        .then((backlogged) => this.announceBacklog(payload.memberAssignment, join, backlogged))
        .finally(() => {
          if (assigned.length > 0 && join === this.joins && !this.draining && !this.stopping) consumer.resume(assigned);
        });
      void this.assignmentAnnounced.finally(() => this.firstAssigned());
    });
    // kafkajs resolves a fetched range whose records were all filtered out by itself, without
    // eachBatch; it reports it only as a batch of size 0.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize === 0) this.onFilteredRange(consumer, payload);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error({ err: payload.error, restart: payload.restart }, 'kafka consumer crashed');
    });
    try {
      await consumer.connect();
      // kafkajs's own default start is used only where pinStarts set none (every partition without an
      // offset is pinned at its end when INGEST_FROM_BEGINNING=false), and where a fetch runs out of
      // range: retention deleted records while agentwatch lagged. There the earliest offset reads
      // what is still retained; the end would skip it.
      await consumer.subscribe({ topics, fromBeginning: true });
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
   * Where each assigned partition starts, settled before reading:
   * - INGEST_FROM_BEGINNING=false, a partition the group has no offset for: at its end now, committed
   *   at once. Left to the consumer, "latest" is resolved again at every start until a first commit,
   *   so records produced while agentwatch was down after a start that read nothing (or crashed
   *   before its first commit) would never be read.
   * - A committed offset below the partition's log start (retention deleted records agentwatch never
   *   read): at the log start, committed at once, with a warning naming what was lost. Left to the
   *   consumer, the out-of-range offset is reset to the end when INGEST_FROM_BEGINNING=false,
   *   skipping every record still retained; and a partition whose whole backlog was deleted counted
   *   as backlogged for good, holding event time back until its producer wrote again.
   */
  private async pinStarts(
    consumer: Consumer,
    assignment: Record<string, number[]>,
    join: number,
  ): Promise<string[] | null> {
    if (this.admin === undefined || this.stopping) return null;
    const topics = Object.keys(assignment).filter((t) => (assignment[t] ?? []).length > 0);
    if (topics.length === 0) return [];
    try {
      const read = await this.startOffsets(topics, join);
      if (read === null) return null;
      const [committed, ends] = read;
      const pins: Array<{ topic: string; partition: number; offset: string }> = [];
      /** Partitions with records left from where they start: announced to the event clock. */
      const backlogged: string[] = [];
      const lost: Array<{
        topic: string;
        partition: number;
        committed: string;
        logStart: string;
        offsetsDeleted: string;
      }> = [];
      for (const { topic, partitions } of committed) {
        const owned = new Set(assignment[topic] ?? []);
        const offsets = new Map(partitions.map((p) => [p.partition, p.offset]));
        for (const end of ends.get(topic) ?? []) {
          const offset = offsets.get(end.partition);
          if (!owned.has(end.partition) || offset === undefined) continue;
          let start = BigInt(offset);
          // Negative: no offset (-1), or the -1/-2 kafkajs commits by itself after an out-of-range fetch.
          if (start < 0n) {
            start = BigInt(end.low);
            if (!this.options.ingest.fromBeginning) {
              pins.push({ topic, partition: end.partition, offset: end.high });
              start = BigInt(end.high);
            }
          } else if (start < BigInt(end.low)) {
            pins.push({ topic, partition: end.partition, offset: end.low });
            const offsetsDeleted = (BigInt(end.low) - start).toString();
            lost.push({ topic, partition: end.partition, committed: offset, logStart: end.low, offsetsDeleted });
            start = BigInt(end.low);
          }
          if (BigInt(end.high) > start) backlogged.push(`${topic}:${end.partition}`);
        }
      }
      // A rebalance meanwhile: the partitions may be another member's now, whose offsets this must not move.
      if (join !== this.joins || this.stopping) return null;
      if (pins.length === 0) return backlogged;
      for (const gap of lost) {
        this.counters.offsetsLost += Number(gap.offsetsDeleted);
        this.logger.warn(
          gap,
          "the topic's retention deleted records past the group's committed offset before agentwatch read them: those not audited already never will be; reading starts at the log start (keep the agent topics' retention longer than any outage of agentwatch)",
        );
      }
      for (const pin of pins) consumer.seek(pin);
      await consumer.commitOffsets(pins);
      const unread = pins.length - lost.length;
      if (unread > 0)
        this.logger.info(
          { partitions: unread },
          'starting at the end of partitions never read (INGEST_FROM_BEGINNING=false)',
        );
      return backlogged;
    } catch (err) {
      if (this.stopping) return null; // cut short by stop()
      this.logger.warn(
        { err },
        'could not settle where the assigned partitions start; reading starts at the committed offsets, and at the earliest retained offset where there is none or it was deleted (INGEST_FROM_BEGINNING=false is not applied this time)',
      );
      return null;
    }
  }

  /**
   * The group's committed offsets and the partitions' ends, as of now (records produced while this
   * runs would be skipped), all topics at once. A failure is tried again SETTLE_ATTEMPTS times: on a
   * broker with 1,600 topics, kafkajs's metadata lock timed out once ("updating target topics"),
   * and giving up there read every agent topic from its beginning. null: stopped, or a rebalance
   * meanwhile.
   */
  private async startOffsets(
    topics: string[],
    join: number,
  ): Promise<[Awaited<ReturnType<Admin['fetchOffsets']>>, Awaited<ReturnType<typeof topicOffsets>>] | null> {
    const admin = this.admin!;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await Promise.all([
          admin.fetchOffsets({ groupId: this.options.groupId, topics }),
          topicOffsets(admin, topics, () => this.stopping),
        ]);
      } catch (err) {
        if (attempt >= SETTLE_ATTEMPTS || this.stopping) throw err;
        this.logger.warn(
          { err, attempt, topics: topics.length },
          `could not read where the assigned partitions start; trying again in ${SETTLE_RETRY_MS} ms`,
        );
        await new Promise((resolve) => setTimeout(resolve, SETTLE_RETRY_MS));
        if (join !== this.joins || this.stopping) return null;
      }
    }
  }

  /**
   * kafkajs found a partition's next offset out of range while reading: retention deleted records
   * agentwatch had not read yet (it lagged by more than the topic's retention). kafkajs restarts the
   * partition at the earliest retained offset and commits -2 to the group by itself; this counts
   * and reports what was deleted, and commits the log start in the partition's turn, so a restart
   * before the next batch's commit does not take the -2 for "never read" and skip to the end.
   * Resets of other groups' consumers (the client is shared) are not the tap's.
   */
  onOffsetReset(at: { groupId: string; topic: string; partition: number }): void {
    const consumer = this.consumer;
    const admin = this.admin;
    if (at.groupId !== this.options.groupId) return;
    if (consumer === undefined || admin === undefined || this.stopping || this.draining) return;
    const { topic, partition } = at;
    const key = `${topic}:${partition}`;
    const join = this.joins;
    const from = this.readUpTo.get(key);
    // The offset to commit is known once the log start is read; null commits nothing.
    const commit: { join: number; topic: string; partition: number; next: string | null } = {
      join,
      topic,
      partition,
      next: null,
    };
    let settled!: () => void;
    const known = new Promise<void>((resolve) => (settled = resolve));
    // Tracked at once, so that its commit comes after the partition's earlier batches and before its later ones.
    void this.track(consumer, commit, 0, known, () => join !== this.joins);
    this.handling += 1;
    void (async () => {
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        const low = offsets.find((o) => o.partition === partition)?.low;
        if (low === undefined || join !== this.joins) return;
        // Where it had read up to is unknown when the reset came before this join's first batch:
        // what was lost is not counted then, but the log start is committed all the same.
        const offsetsDeleted = from === undefined || BigInt(low) <= from ? null : BigInt(low) - from;
        if (offsetsDeleted !== null) this.counters.offsetsLost += Number(offsetsDeleted);
        if (from === undefined || BigInt(low) > from) {
          commit.next = low;
          // A second reset counts from here (or from a batch read since, if further).
          const since = this.readUpTo.get(key);
          if (since === undefined || since < BigInt(low)) this.readUpTo.set(key, BigInt(low));
        }
        this.logger.warn(
          {
            topic,
            partition,
            readUpTo: from?.toString() ?? null,
            logStart: low,
            offsetsDeleted: offsetsDeleted?.toString() ?? null,
          },
          "the topic's retention deleted records agentwatch had not read yet (it lagged by more than the retention): they are never audited; reading goes on at the log start (keep the agent topics' retention longer than agentwatch can lag)",
        );
      } catch (err) {
        if (!this.stopping)
          this.logger.warn({ err, topic, partition }, 'could not read the log start after an out-of-range reset');
      } finally {
        settled();
        this.handling -= 1;
      }
    })();
  }

  private async onBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    this.handling += 1;
    try {
      await this.handleBatch(consumer, payload);
    } finally {
      this.handling -= 1;
    }
  }

  /**
   * Hooks for a batch while it waits to be durable and committed (heartbeat, and whether it is still
   * ours) that do not keep kafkajs's batch alive. kafkajs's own closures share one scope with its
   * Batch (its raw and decoded messages), so a pending batch kept every message it was read with
   * until its insert was confirmed, up to INGEST_MAX_PENDING_RECORDS of them. Within one group join
   * they act the same for every batch of a partition (one runner's heartbeat and running flag, one
   * group's seek for the partition), so these call those of the partition's latest batch of the same
   * join, held only while some batch of it is pending (`release` once its commit turn is over). Built
   * here, not in handleBatch, whose closures capture the batch.
   */
  private pendingHooks(
    join: number,
    topic: string,
    partition: number,
    latest: BatchLiveness,
  ): {
    heartbeat: () => Promise<void>;
    isStale: () => boolean;
    isActive: () => boolean;
    release: () => void;
  } {
    if (join !== this.livenessJoin) {
      this.liveness.clear(); // an earlier join's pending batches keep their own holders
      this.livenessJoin = join;
    }
    const key = `${topic}:${partition}`;
    let holder = this.liveness.get(key);
    if (holder === undefined) this.liveness.set(key, (holder = { latest, pending: 0 }));
    else holder.latest = latest;
    holder.pending += 1;
    const partitionLiveness = holder;
    return {
      heartbeat: () => partitionLiveness.latest?.heartbeat() ?? Promise.resolve(),
      isStale: () => partitionLiveness.latest?.isStale() ?? true,
      isActive: () => {
        const current = partitionLiveness.latest;
        return current !== undefined && current.isRunning() && !current.isStale() && !this.stopping;
      },
      release: () => {
        partitionLiveness.pending -= 1;
        if (partitionLiveness.pending > 0) return;
        partitionLiveness.latest = undefined;
        if (this.liveness.get(key) === partitionLiveness) this.liveness.delete(key);
      },
    };
  }

  private async handleBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    // oxlint-disable-next-line typescript/unbound-method -- kafkajs hands closures, not methods
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    await this.assignmentAnnounced;
    // Fetched before the join's seek (INGEST_FROM_BEGINNING=false) moved the partition: read it again from there.
    if (isStale()) return;
    const messages = batch.messages;
    const last = messages[messages.length - 1];
    if (last === undefined) return;
    const join = this.joins;
    const records = messages.map((message) => toRecord(batch.topic, batch.partition, message));
    // batch.lastOffset() counts the control records kafkajs leaves out: a transactional producer's log
    // ends with a commit marker, which the last record's offset + 1 never passes. Committed short of
    // it, a restart took the marker for a backlog that never comes, and the partition held event time.
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    this.readUpTo.set(`${batch.topic}:${batch.partition}`, BigInt(next));
    const hooks = this.pendingHooks(join, batch.topic, batch.partition, { heartbeat, isRunning, isStale });
    let durable: Promise<void>;
    try {
      ({ durable } = await this.options.handler({
        topic: batch.topic,
        partition: batch.partition,
        records,
        caughtUp: BigInt(next) >= BigInt(batch.highWatermark),
        heartbeat: hooks.heartbeat,
        isActive: hooks.isActive,
      }));
      // The next fetch of this partition starts after this batch; its offsets are committed once durable.
      resolveOffset(last.offset);
    } catch (err) {
      hooks.release(); // not tracked: nothing pending holds the partition's kafkajs closures for it
      throw err;
    }
    this.counters.records += records.length;
    this.counters.batches += 1;
    void this.track(
      consumer,
      { join, topic: batch.topic, partition: batch.partition, next },
      records.length,
      durable,
      hooks.isStale,
    ).then(hooks.release);
    if (this.pendingRecords >= this.options.ingest.maxPendingRecords && !this.stopping) {
      this.counters.pendingWaits += 1;
      await this.waitForPending(heartbeat, this.options.ingest.maxPendingRecords);
    }
    if (this.options.holdBack?.(batch.topic, batch.partition) === true && !this.stopping) {
      consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
      this.held.set(`${batch.topic}:${batch.partition}`, { topic: batch.topic, partition: batch.partition });
    }
    this.releaseHeld();
    try {
      await heartbeat();
    } catch (err) {
      // A rebalance: kafkajs rejoins once this batch returns, and the partitions may go to another
      // member, which reads each chain's tail from the store. So the batches handed over are made
      // durable (and committed) first; the group waits for this member up to its rebalance timeout.
      await this.waitForPending(async () => undefined, 1);
      throw err;
    }
  }

  /**
   * A fetched range with no record to deliver: an aborted transaction, or commit markers only. The
   * partition moved on all the same. Ignored, a backlog that ends in an aborted transaction stayed
   * "not caught up" for good and held event time back (no timeout, no window closed) until the
   * producer wrote again, and its offset was never committed past the abort. So the range goes
   * through the handler as a batch without records (the event clock learns the partition is caught
   * up), and its end is committed in turn after the partition's earlier batches.
   */
  private onFilteredRange(
    consumer: Consumer,
    range: { topic: string; partition: number; highWatermark: string; lastOffset: string },
  ): void {
    if (this.stopping || this.draining) return; // read again from the last commit
    const { topic, partition } = range;
    const join = this.joins;
    const next = (BigInt(range.lastOffset) + 1n).toString();
    this.readUpTo.set(`${topic}:${partition}`, BigInt(next));
    this.counters.filteredRanges += 1;
    let handedOver!: (durable: Promise<void>) => void;
    const durable = new Promise<void>((resolve) => (handedOver = resolve));
    // Tracked at once, before any wait, so that its commit comes after the partition's earlier batches.
    void this.track(consumer, { join, topic, partition, next }, 0, durable, () => join !== this.joins);
    this.handling += 1;
    const announced = this.assignmentAnnounced;
    void (async () => {
      try {
        await announced;
        if (join !== this.joins) throw new Error('the group rebalanced; the range is read again');
        const handled = await this.options.handler({
          topic,
          partition,
          records: [],
          caughtUp: BigInt(next) >= BigInt(range.highWatermark),
          heartbeat: async () => undefined, // nothing to wait on: no record reaches a sink
          isActive: () => !this.stopping && join === this.joins,
        });
        handedOver(handled.durable);
      } catch (err) {
        handedOver(Promise.reject(err instanceof Error ? err : new Error(String(err))));
      } finally {
        this.handling -= 1;
      }
      this.releaseHeld();
    })();
  }

  /**
   * Commits `next` for the partition once `durable` settled and every earlier pending batch of the
   * partition read since the same group join is stored. A batch abandoned (its sinks gave up:
   * rebalance, stop) commits nothing, and neither do the partition's later batches of that join:
   * they are read again from the last commit. After a join, kafkajs reads from the committed offset
   * again, so the new join's batches start a chain of their own, and the earlier join's commit nothing.
   * Settles once the batch's commit turn is over.
   */
  private track(
    consumer: Consumer,
    at: { readonly join: number; readonly topic: string; readonly partition: number; readonly next: string | null },
    records: number,
    durable: Promise<void>,
    isStale: () => boolean,
  ): Promise<void> {
    const { topic, partition } = at;
    const key = `${at.join}:${topic}:${partition}`;
    const previous = this.commitTurns.get(key) ?? Promise.resolve(true);
    const turn = (async (): Promise<boolean> => {
      const [storedBefore, stored] = await Promise.all([
        previous,
        durable.then(
          () => true,
          () => false,
        ),
      ]);
      // Whether this batch and every earlier one of the join are stored: only then may `next` be
      // committed. A commit that fails does not stop later ones (they cover it).
      if (!storedBefore || !stored) return false;
      // A later join (a rebalance) reads from the committed offset again, and the partition may be
      // another member's now: a commit of an earlier join could move its offset. A stale partition
      // was sought elsewhere.
      if (at.join !== this.joins || isStale()) return true;
      // Read only now: an out-of-range reset learns its offset while its turn waits (null: nothing to commit).
      const next = at.next;
      if (next === null) return true;
      try {
        await consumer.commitOffsets([{ topic, partition, offset: next }]);
        this.counters.commits += 1;
      } catch (err) {
        this.logger.warn(
          { err, topic, partition, offset: next },
          'could not commit offsets; a later commit of the partition covers them, or they are read again',
        );
      }
      return true;
    })();
    this.commitTurns.set(key, turn);
    const entry: PendingBatch = {
      records,
      settled: turn.then(() => {
        this.pending.splice(this.pending.indexOf(entry), 1);
        this.pendingRecords -= records;
        if (this.commitTurns.get(key) === turn) this.commitTurns.delete(key);
      }),
    };
    this.pending.push(entry);
    this.pendingRecords += records;
    return entry.settled;
  }

  /** Waits, heartbeating, until fewer than `bound` records are pending; sinks are asked to write now. */
  private async waitForPending(heartbeat: () => Promise<void>, bound: number): Promise<void> {
    const timer = setInterval(() => void heartbeat().catch(() => undefined), 3_000);
    try {
      while (this.pendingRecords >= bound && this.pending.length > 0) {
        this.options.flushNow?.();
        await this.pending[0]!.settled;
      }
    } finally {
      clearInterval(timer);
    }
  }

  /** Stops taking batches and waits until every batch handed over was committed or given up. */
  private async drain(): Promise<void> {
    const consumer = this.consumer;
    this.draining = true;
    try {
      if (consumer !== undefined) consumer.pause(this.topics.map((topic) => ({ topic })));
      while (this.handling > 0 || this.pending.length > 0) {
        this.options.flushNow?.();
        if (this.pending.length > 0) await this.pending[0]!.settled;
        else await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Announces which assigned partitions have records left (where they start below the high
   * watermark): `known` when pinStarts found it, else read again.
   */
  private async announceBacklog(
    assignment: Record<string, number[]>,
    join: number,
    known: string[] | null,
  ): Promise<void> {
    if (this.options.onAssignment === undefined || this.admin === undefined || this.stopping) return;
    if (join !== this.joins) return; // a later join announces its own
    try {
      const backlogged =
        known ??
        (await this.progress(Object.keys(assignment)))
          .filter((p) => (assignment[p.topic] ?? []).includes(p.partition) && p.high > p.next)
          .map((p) => `${p.topic}:${p.partition}`);
      if (join !== this.joins) return;
      this.options.onAssignment(backlogged);
    } catch (err) {
      if (this.stopping) return; // cut short by stop()
      this.logger.warn(
        { err },
        'could not read the backlog of the new assignment; task timeouts may fire early while catching up',
      );
      if (join === this.joins) this.options.onAssignment(null);
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
    const [committed, ends] = await Promise.all([
      this.admin.fetchOffsets({ groupId: this.options.groupId, topics: [...topics] }),
      topicOffsets(this.admin, topics, () => this.stopping),
    ]);
    const result: Array<{ topic: string; partition: number; next: bigint; high: bigint }> = [];
    for (const topic of topics) {
      const done = new Map(
        committed.find((c) => c.topic === topic)?.partitions.map((p) => [p.partition, p.offset]) ?? [],
      );
      for (const end of ends.get(topic) ?? []) {
        const committedOffset = done.get(end.partition) ?? '-1';
        const next =
          BigInt(committedOffset) >= 0n ? committedOffset : this.options.ingest.fromBeginning ? end.low : end.high;
        // Below the log start, the records between were deleted by retention: none is coming.
        const low = BigInt(end.low);
        result.push({
          topic,
          partition: end.partition,
          next: BigInt(next) < low ? low : BigInt(next),
          high: BigInt(end.high),
        });
      }
    }
    return result;
  }
}

/** Tries at reading where the assigned partitions start, and the pause between them. */
const SETTLE_ATTEMPTS = 3;
const SETTLE_RETRY_MS = 2_000;

/** Topics whose end offsets are asked for at once (one at a time took 18 s for 559 topics). */
const OFFSET_FETCHES_AT_ONCE = 32;

/** The low and high offsets of each topic's partitions. */
async function topicOffsets(
  admin: Admin,
  topics: readonly string[],
  stopping: () => boolean = () => false,
): Promise<Map<string, Array<{ partition: number; low: string; high: string }>>> {
  const result = new Map<string, Array<{ partition: number; low: string; high: string }>>();
  for (let i = 0; i < topics.length; i += OFFSET_FETCHES_AT_ONCE) {
    // Stopped meanwhile: the admin is disconnected, and a request now would connect it again (and
    // keep the process alive).
    if (stopping()) throw new Error('the tap is stopping');
    const chunk = topics.slice(i, i + OFFSET_FETCHES_AT_ONCE);
    const offsets = await Promise.all(chunk.map((topic) => admin.fetchTopicOffsets(topic)));
    chunk.forEach((topic, j) => result.set(topic, offsets[j]!));
  }
  return result;
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
