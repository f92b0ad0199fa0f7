// How far behind in time a consumer is: per partition, a bounded table of (high watermark, wall
// time) samples taken at each evaluation, in which a committed offset is looked up to estimate when
// the oldest unconsumed record was written (kafka-lag-exporter's method). A consumer that stopped
// keeps its committed offset, so its lag in seconds keeps growing with wall time even when
// producers stop too: the age of the record is read from the table, not from the rate of arrival.

/** One look at a partition's high watermark: `offset` records had been written by `atMs`. */
export interface WatermarkSample {
  offset: number;
  atMs: number;
}

export interface LagSeconds {
  seconds: number;
  /**
   * The record is older than the oldest sample kept (it was written before the partition was first
   * looked at, or before the table thinned that far back): `seconds` counts from the oldest sample,
   * so the true lag is at least this.
   */
  lowerBound: boolean;
}

/** 64 samples cover 32 evaluations at full resolution, and the whole time watched at less. */
export const DEFAULT_SAMPLES_PER_PARTITION = 64;

/**
 * The samples of one partition, oldest first, offsets non-decreasing. Bounded: when full, the older
 * half is thinned to every other sample, so recent history stays exact and older history gets
 * coarser; the oldest sample is always kept, so a record written while the table was watched
 * never becomes a lower bound.
 */
export class PartitionClock {
  private readonly table: WatermarkSample[] = [];

  constructor(private readonly maxSamples = DEFAULT_SAMPLES_PER_PARTITION) {
    // Thinning needs the oldest sample, an older half and the newest sample.
    if (!Number.isInteger(maxSamples) || maxSamples < 4)
      throw new RangeError(`maxSamples must be an integer >= 4, got ${maxSamples}`);
  }

  /**
   * Adds a sample. A watermark below the newest sample (the topic was deleted and created again, or
   * a log truncated after an unclean leader election) starts the table over: the old samples no
   * longer describe these offsets. A sample older than the newest is ignored (the clock went back).
   */
  record(highWatermark: number, atMs: number): void {
    const last = this.table.at(-1);
    if (last !== undefined && highWatermark < last.offset) this.table.length = 0;
    else if (last !== undefined && atMs < last.atMs) return;
    const beforeLast = this.table.at(-2);
    // While the watermark stands still only the first and the latest sample of the run matter: the
    // first says when it got there, the latest that nothing newer had been written yet. An idle
    // partition thus keeps two samples, not one per evaluation.
    if (
      last !== undefined &&
      beforeLast !== undefined &&
      last.offset === highWatermark &&
      beforeLast.offset === highWatermark
    ) {
      last.atMs = atMs;
      return;
    }
    this.table.push({ offset: highWatermark, atMs });
    if (this.table.length > this.maxSamples) this.thin();
  }

  /**
   * How long ago the record at `committed` (the next one the consumer would read) was written:
   * `nowMs` minus the time the high watermark passed `committed`, interpolated linearly between the
   * last sample at or below `committed` and the first above it. The watermark passes `committed`
   * when it reaches committed + 1, which is when that record existed; looking up `committed`
   * itself would date an idle partition's next record to when the watermark first stood there.
   * 0 when nothing is waiting (committed at or past the newest watermark); undefined before the
   * first sample.
   */
  secondsBehind(committed: number, nowMs: number): LagSeconds | undefined {
    const newest = this.table.at(-1);
    if (newest === undefined) return undefined;
    if (committed >= newest.offset) return { seconds: 0, lowerBound: false };
    const above = this.table.findIndex((sample) => sample.offset > committed);
    const after = this.table[above]!;
    const before = this.table[above - 1];
    if (before === undefined) return { seconds: Math.max(0, (nowMs - after.atMs) / 1000), lowerBound: true };
    const fraction = (committed + 1 - before.offset) / (after.offset - before.offset);
    const writtenAt = before.atMs + (after.atMs - before.atMs) * fraction;
    return { seconds: Math.max(0, (nowMs - writtenAt) / 1000), lowerBound: false };
  }

  get size(): number {
    return this.table.length;
  }

  samples(): readonly WatermarkSample[] {
    return this.table;
  }

  /** Drops every other sample of the older half, keeping the oldest one. */
  private thin(): void {
    const half = Math.floor(this.table.length / 2);
    // Index 0, the oldest, is even: it stays.
    const kept = this.table.filter((_, i) => i >= half || i % 2 === 0);
    this.table.splice(0, this.table.length, ...kept);
  }
}

export interface LagClockOptions {
  samplesPerPartition?: number;
  /** Partitions tracked at most; samples of further partitions are refused (and counted). */
  maxPartitions?: number;
}

/** The PartitionClocks of every watched topic-partition, capped in number. */
export class LagClock {
  private readonly clocks = new Map<string, PartitionClock>();
  private readonly samplesPerPartition: number;
  private readonly maxPartitions: number;
  private refused = 0;

  constructor(options: LagClockOptions = {}) {
    this.samplesPerPartition = options.samplesPerPartition ?? DEFAULT_SAMPLES_PER_PARTITION;
    this.maxPartitions = options.maxPartitions ?? 10_000;
  }

  /** Records a sample; false when the partition is new and the cap is reached (its lag in seconds stays unknown). */
  record(topic: string, partition: number, highWatermark: number, atMs: number): boolean {
    const key = partitionKey(topic, partition);
    let clock = this.clocks.get(key);
    if (clock === undefined) {
      if (this.clocks.size >= this.maxPartitions) {
        this.refused += 1;
        return false;
      }
      clock = new PartitionClock(this.samplesPerPartition);
      this.clocks.set(key, clock);
    }
    clock.record(highWatermark, atMs);
    return true;
  }

  secondsBehind(topic: string, partition: number, committed: number, nowMs: number): LagSeconds | undefined {
    return this.clocks.get(partitionKey(topic, partition))?.secondsBehind(committed, nowMs);
  }

  /** Forgets the partitions of topics no longer watched (deleted, or no watched group reads them). */
  retainTopics(topics: ReadonlySet<string>): void {
    for (const key of this.clocks.keys()) {
      if (!topics.has(key.slice(0, key.lastIndexOf(':')))) this.clocks.delete(key);
    }
  }

  /** Partitions tracked, and samples refused because the cap was reached (since start). */
  stats(): { partitions: number; refusedSamples: number } {
    return { partitions: this.clocks.size, refusedSamples: this.refused };
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}
