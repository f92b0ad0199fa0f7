// The data path for one tapped batch: decode → DLQ copies → correlate → every sink. `handle`
// resolves once the batch was handed to every sink, with a promise that settles once every sink holds
// it durably; the tap commits the batch's offsets only then. Anything that fails (registry, DLQ, a
// sink) is retried with backoff, heartbeating, until it succeeds or the batch is no longer ours;
// nothing is skipped, so a stuck sink stalls consumption (the tap's pending bound) instead of losing
// events.

import type { ClockFindings, CorrelatedBatch, Correlator, EventClock, EventSink } from './correlate/index.js';
import type { AgentEvent, BatchDecoder, DlqReason, Encoding, EventKind } from './decode/index.js';
import { messageOf } from './errors.js';
import type { DlqWriter, HandledBatch, TapBatch } from './ingest/index.js';
import type { Logger } from './logger.js';
import type { BatchObservation } from './metrics/index.js';

export interface PipelineDeps {
  decoder: BatchDecoder;
  correlator: Correlator;
  clock: EventClock;
  /** Where records stamped out of any clock's reach are counted, per producer. */
  clockFindings: ClockFindings;
  dlq: DlqWriter;
  sinks: readonly EventSink[];
  logger: Logger;
  /** Longest backoff between retries. */
  retryMaxMs: number;
  /** A partition further ahead of event time than this waits for the others (EVENT_TIME_ALIGN_MS). */
  alignMs: number;
  /** Told about every handled batch (metrics). */
  observer?: { batch(observation: BatchObservation): void };
}

export interface PipelineStats {
  events: number;
  byEncoding: Partial<Record<Encoding, number>>;
  byKind: Partial<Record<EventKind, number>>;
  dlq: Partial<Record<DlqReason, number>>;
  timeouts: number;
  retries: number;
  /** Records whose timestamps no clock explains (audited; not correlated or scored). */
  clockSkew: { ahead: number; behind: number };
}

const HEARTBEAT_EVERY_MS = 3_000;
/** A batch in progress this long is stuck (on a sink): the event clock stops counting quiet time (EventClock.stalled). */
const STALL_AFTER_MS = 2_000;
const FIRST_BACKOFF_MS = 100;

/** A partition whose batch keeps failing a step: it waits and retries, the other partitions go on. */
export interface PartitionStall {
  topic: string;
  partition: number;
  /** The step that fails (decode, the DLQ copy, a sink). */
  step: string;
  /** Wall time of the first failure of this step. */
  since: number;
  attempts: number;
  /** The last error's message. */
  error: string;
}

/** Thrown when a batch is abandoned because the tap stopped or lost the partition; it will be read again. */
export class BatchAbandoned extends Error {
  constructor(step: string) {
    super(`batch abandoned during ${step}: the tap is stopping or the partition was reassigned`);
    this.name = 'BatchAbandoned';
  }
}

export class Pipeline {
  private readonly counters: PipelineStats = {
    events: 0,
    byEncoding: {},
    byKind: {},
    dlq: {},
    timeouts: 0,
    retries: 0,
    clockSkew: { ahead: 0, behind: 0 },
  };
  /** The last tick's output while a sink has not accepted it yet; offered again on the next tick. */
  private undeliveredTick: CorrelatedBatch | undefined;
  private lastTickWatermark = Number.NEGATIVE_INFINITY;
  /** Batches in the synchronous stages (decode, DLQ copy, correlate), for group commit. */
  private decoding = 0;
  /** A batch that reached the end of its partition was handed over: flush once no batch is decoding. */
  private flushWanted = false;
  /** Wall start of each batch not yet held durably by the sinks, oldest first. */
  private readonly batchStarts: number[] = [];
  /** Steps failing now, per "topic:partition:step". */
  private readonly failing = new Map<string, PartitionStall>();

  constructor(private readonly deps: PipelineDeps) {}

  readonly handle = async (batch: TapBatch): Promise<HandledBatch> => {
    const { decoder, correlator, clock, dlq, sinks } = this.deps;
    this.decoding += 1;
    const batchStart = Date.now();
    this.batchStarts.push(batchStart);
    let handedOver = false;
    try {
      const started = performance.now();
      const events = await this.persist(batch, 'decode', () => decoder.decode(batch.records));
      const dead = events.filter((event) => event.dlqReason !== null);
      if (dead.length > 0) {
        const delivery = dlq.prepare(dead);
        await this.persist(batch, `DLQ copy to ${dlq.topic}`, () => delivery.send());
      }
      const decoded = performance.now();

      const wall = Date.now();
      clock.admit(`${batch.topic}:${batch.partition}`, events, batch.caughtUp, wall, (event, skew) => {
        this.counters.clockSkew[skew] += 1;
        this.deps.clockFindings.record(event, skew, wall);
      });
      this.reportStall();
      const watermark = clock.now(wall);
      const timeouts = correlator.process(events, watermark);
      this.count(events, timeouts.length);
      const correlatedAt = performance.now();

      const correlated = { topic: batch.topic, partition: batch.partition, events, timeouts, watermark };
      const accepted = Promise.all(
        sinks.map((sink) => this.persist(batch, `sink ${sink.name}`, () => sink.accept(correlated))),
      );
      handedOver = true;
      // Live (the batch reached its partition's end), nothing more is coming soon: the sinks write
      // once the batches decoding now were handed over too. While a backlog is read they write when
      // full, after their flush interval, or when the tap waits on them.
      if (batch.caughtUp) this.flushWanted = true;
      const durable = accepted.then(() => {
        this.deps.observer?.batch({
          topic: batch.topic,
          records: batch.records.length,
          events,
          seconds: {
            decode: (decoded - started) / 1000,
            correlate: (correlatedAt - decoded) / 1000,
            sinks: (performance.now() - correlatedAt) / 1000,
          },
        });
      });
      return { durable: durable.finally(() => this.settled(batchStart)) };
    } finally {
      this.decoding -= 1;
      if (!handedOver) this.settled(batchStart);
      if (this.flushWanted && this.decoding === 0) this.flushNow();
    }
  };

  /** Buffering sinks write what they hold now (group commit; also asked by the tap when it waits on them). */
  flushNow(): void {
    this.flushWanted = false;
    for (const sink of this.deps.sinks) sink.flushNow?.();
  }

  /** A batch is durable or abandoned: it no longer holds event time back. */
  private settled(batchStart: number): void {
    this.batchStarts.splice(this.batchStarts.indexOf(batchStart), 1);
    this.reportStall();
  }

  /**
   * Lets event time move without new records: a partition that fell quiet stops holding the clock
   * back, and after the whole fleet fell silent the clock moves on. Tasks that timed out and windows
   * that closed meanwhile go to the sinks like a batch without records. Called periodically.
   */
  async tick(): Promise<void> {
    const { clock, correlator, sinks } = this.deps;
    if (this.undeliveredTick === undefined) {
      this.reportStall();
      const watermark = clock.now(Date.now());
      if (watermark <= this.lastTickWatermark) return;
      this.lastTickWatermark = watermark;
      const timeouts = correlator.process([], watermark);
      this.counters.timeouts += timeouts.length;
      this.undeliveredTick = { topic: '', partition: -1, events: [], timeouts, watermark };
    }
    const batch = this.undeliveredTick;
    try {
      await Promise.all(sinks.map((sink) => sink.accept(batch)));
      this.undeliveredTick = undefined;
    } catch (err) {
      this.deps.logger.warn(
        { err: messageOf(err) },
        'a sink refused the event-clock tick; the next tick offers it again',
      );
    }
  }

  /**
   * Tells the event clock whether reading is stalled: a batch in progress for longer than
   * STALL_AFTER_MS (stuck on a sink) means no partition can deliver, so that time is not quiet time.
   */
  private reportStall(): void {
    const oldest = this.batchStarts[0];
    this.deps.clock.stalled(oldest === undefined ? undefined : oldest + STALL_AFTER_MS, Date.now());
  }

  /**
   * Watermark alignment: whether a partition is more than `alignMs` of event time ahead of the event
   * clock. Its tasks would wait in memory for answers on partitions read more slowly (a backlog read
   * unevenly), so the tap holds it until the others catch up: memory stays bounded and no answer is
   * evicted unread.
   */
  isAhead(topic: string, partition: number): boolean {
    const key = `${topic}:${partition}`;
    const wall = Date.now();
    const ahead = this.deps.clock.lead(key, wall) > this.deps.alignMs;
    if (ahead)
      this.deps.clock.hold(key); // not read while held: never idle
    else this.deps.clock.release(key, wall);
    return ahead;
  }

  /** The tap (re)joined its group: partition progress starts over from the new assignment's backlog. */
  onAssignment(backlogged: readonly string[] | null): void {
    this.deps.clock.resetPartitions();
    const wall = Date.now();
    for (const partition of backlogged ?? []) this.deps.clock.expect(partition, wall);
  }

  stats(): PipelineStats {
    return structuredClone(this.counters);
  }

  /** Partitions whose batch keeps failing a step now, longest first (metrics, /readyz). */
  stalls(): PartitionStall[] {
    return [...this.failing.values()].sort((a, b) => a.since - b.since).map((s) => ({ ...s }));
  }

  /** Runs `step` until it succeeds, heartbeating while it waits; gives up only when the batch is no longer ours. */
  private async persist<T>(batch: TapBatch, what: string, step: () => Promise<T>): Promise<T> {
    let backoff = FIRST_BACKOFF_MS;
    let key: string | undefined; // set on the first failure: nothing extra on the hot path
    try {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await whileHeartbeating(batch, step());
        } catch (err) {
          if (!batch.isActive()) throw new BatchAbandoned(what);
          this.counters.retries += 1;
          key ??= `${batch.topic}:${batch.partition}:${what}`;
          const stall = this.failing.get(key) ?? {
            topic: batch.topic,
            partition: batch.partition,
            step: what,
            since: Date.now(),
            attempts: 0,
            error: '',
          };
          stall.attempts = attempt;
          stall.error = messageOf(err);
          this.failing.set(key, stall);
          this.deps.logger.warn(
            {
              err: messageOf(err),
              attempt,
              retryInMs: backoff,
              topic: batch.topic,
              partition: batch.partition,
              firstOffset: batch.records[0]?.offset,
            },
            `${what} failed; consumption of this partition waits and retries`,
          );
          await sleepWhileHeartbeating(batch, backoff);
          if (!batch.isActive()) throw new BatchAbandoned(what);
          backoff = Math.min(backoff * 2, this.deps.retryMaxMs);
        }
      }
    } finally {
      if (key !== undefined) this.failing.delete(key);
    }
  }

  private count(events: readonly AgentEvent[], timeouts: number): void {
    const c = this.counters;
    c.events += events.length;
    c.timeouts += timeouts;
    for (const event of events) {
      c.byEncoding[event.encoding] = (c.byEncoding[event.encoding] ?? 0) + 1;
      c.byKind[event.kind] = (c.byKind[event.kind] ?? 0) + 1;
      if (event.dlqReason !== null) c.dlq[event.dlqReason] = (c.dlq[event.dlqReason] ?? 0) + 1;
    }
  }
}

async function whileHeartbeating<T>(batch: TapBatch, work: Promise<T>): Promise<T> {
  const timer = setInterval(() => void batch.heartbeat().catch(() => undefined), HEARTBEAT_EVERY_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

/** Sleeps up to `ms`, heartbeating, and wakes early when the batch stops being ours (prompt shutdown). */
async function sleepWhileHeartbeating(batch: TapBatch, ms: number): Promise<void> {
  const until = Date.now() + ms;
  await whileHeartbeating(
    batch,
    (async () => {
      while (Date.now() < until && batch.isActive()) {
        await new Promise<void>((resolve) => setTimeout(resolve, Math.min(250, until - Date.now())));
      }
    })(),
  );
}
