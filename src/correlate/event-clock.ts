// The event-time clock: when windows close and unanswered tasks time out. No single record can move it.
//
// Each partition has its own watermark: the newest timestamp among its records. The clock is the
// minimum over active partitions, so a window closes only when every active partition has passed
// its end, and a task times out only when every partition that could hold its answer has passed its
// deadline (a backlogged results partition holds the clock back while catching up). A partition is
// active while it has a backlog, and while caught up until it has shown no record for `idleMs` of
// event time (measured on the wall clock at the declared speed), and never for less than
// MIN_IDLE_WALL_MS of wall time: a quiet partition then drops out, as in stream processors. The wall
// floor is the consumer's fetch cycle: at 60× speed, 15 s of event time is 250 ms of wall time, less
// than a busy consumer may take between two batches of one partition, and a partition dropped while
// its next batch is on the way delivers records for windows already closed (measured on the real
// broker: 58 % of events late). 5 s, not 2: under a loaded CI machine one partition's delivery paused
// for ~2 s while others flowed (not a stall), and at 60× a 2 s floor let it drop out with answers on
// the way (46 spurious timeouts in one run). When every partition is idle, event time moves on from the newest
// record at the declared speed, less that idle time, so windows close and timeouts fire after the
// whole fleet fell silent. The clock never goes backwards.
//
// Quiet time counts only while agentwatch reads: while the pipeline is stalled (a batch stuck on a
// sink, say the audit store being down), no partition can deliver, so the stall (`stalled`) is not
// quiet time. Otherwise a stall of the idle time would let event time run on with the wall clock
// and time out every task in flight.
//
// Records whose timestamps no clock could explain never touch a watermark:
//   ahead:  t > reference(wall) + maxSkewMs, where reference(wall) = anchor.event + (wall − anchor.wall)·speed
//           (the declared clock: by default the wall clock; an accelerated simulation declares its own);
//   behind: t < max(clock, its partition's watermark) − maxSkewMs.
// They are still audited; the pipeline counts them per producer (ClockFindings) and keeps them out of
// correlation and detection. Records behind by less than maxSkewMs are ordinary late records.
//
// Pure: the wall time comes in as an argument.

import type { AgentEvent } from '../decode/index.js';

/** The least wall time a caught-up partition must be quiet before it is idle, whatever the speed. */
export const MIN_IDLE_WALL_MS = 5_000;

export type ClockSkew = 'ahead' | 'behind';

export interface EventClockOptions {
  /** A record further than this from the clock (ahead of the reference, or behind the watermark) is a clock outlier. */
  maxSkewMs: number;
  /** Event time after which a caught-up partition with no new record stops holding the clock back. */
  idleMs: number;
  /** Event time runs this many times faster than the wall clock (1 for a real fleet). */
  speed: number;
  /** The declared clock showed event time `event` at wall time `wall` (both ms since the epoch). */
  anchor: { event: number; wall: number };
}

interface PartitionProgress {
  /** Newest admitted timestamp, -Infinity before the first. */
  watermark: number;
  /** Wall time of the partition's last delivered record (or of its announcement). */
  lastRecordWall: number;
  /** The clock's finished stall time when the partition last delivered (stalls since then are not quiet time). */
  stalledAtRecord: number;
  caughtUp: boolean;
  /** Paused by the tap (it ran ahead): not read, so never idle, until released or its next batch. */
  held: boolean;
}

export class EventClock {
  private readonly partitions = new Map<string, PartitionProgress>();
  private current = Number.NEGATIVE_INFINITY;
  /** Wall time the current stall began (undefined: none). */
  private stallStart: number | undefined;
  /** Wall time of the stalls that ended. */
  private stalledTotal = 0;

  constructor(private readonly options: EventClockOptions) {}

  /** The event time the fleet's clocks should show at wall time `wall`, by the declared clock. */
  reference(wall: number): number {
    const { anchor, speed } = this.options;
    return anchor.event + (wall - anchor.wall) * speed;
  }

  /**
   * Whether a record's timestamp is a clock outlier: null when it is fit to move its partition's
   * watermark. `newestInBatch`: the newest admitted timestamp of the records before it in its batch.
   */
  classify(
    partitionKey: string,
    timestamp: number,
    wall: number,
    newestInBatch = Number.NEGATIVE_INFINITY,
  ): ClockSkew | null {
    if (timestamp > this.reference(wall) + this.options.maxSkewMs) return 'ahead';
    const watermark = this.partitions.get(partitionKey)?.watermark ?? Number.NEGATIVE_INFINITY;
    if (timestamp < Math.max(watermark, this.current, newestInBatch) - this.options.maxSkewMs) return 'behind';
    return null;
  }

  /**
   * Takes one partition's batch of events (in offset order): marks those whose timestamps no clock
   * explains (event.clockSkew, and `onSkew` for each) and moves the partition's watermark with the rest.
   */
  admit(
    partitionKey: string,
    events: readonly AgentEvent[],
    caughtUp: boolean,
    wall: number,
    onSkew?: (event: AgentEvent, skew: ClockSkew) => void,
  ): void {
    if (events.length === 0) {
      // A range with nothing to deliver (an aborted transaction, commit markers): the partition may
      // be caught up now, but it delivered nothing, so its quiet time goes on. Counted as a record,
      // a producer aborting now and then kept its partition from ever going idle.
      const progress = this.partitions.get(partitionKey);
      if (progress !== undefined) progress.caughtUp = caughtUp;
      return;
    }
    let newest = Number.NEGATIVE_INFINITY;
    for (const event of events) {
      const skew = this.classify(partitionKey, event.timestamp, wall, newest);
      if (skew === null) {
        if (event.timestamp > newest) newest = event.timestamp;
        continue;
      }
      event.clockSkew = skew;
      onSkew?.(event, skew);
    }
    this.observe(partitionKey, newest, caughtUp, wall);
  }

  /**
   * Records the progress of one partition after a batch: the newest admitted timestamp in it
   * (-Infinity when the batch held none) and whether the partition has no backlog left.
   */
  observe(partitionKey: string, newestTimestamp: number, caughtUp: boolean, wall: number): void {
    const progress = this.partitions.get(partitionKey);
    if (progress === undefined) {
      this.partitions.set(partitionKey, {
        watermark: newestTimestamp,
        lastRecordWall: wall,
        stalledAtRecord: this.stalledTotal,
        caughtUp,
        held: false,
      });
      return;
    }
    progress.watermark = Math.max(progress.watermark, newestTimestamp);
    progress.lastRecordWall = wall;
    progress.stalledAtRecord = this.stalledTotal;
    progress.caughtUp = caughtUp;
    progress.held = false;
  }

  /** Announces a partition with a backlog that has not delivered yet: the clock waits for it. */
  expect(partitionKey: string, wall: number): void {
    if (!this.partitions.has(partitionKey))
      this.partitions.set(partitionKey, {
        watermark: Number.NEGATIVE_INFINITY,
        lastRecordWall: wall,
        stalledAtRecord: this.stalledTotal,
        caughtUp: false,
        held: false,
      });
  }

  /**
   * The tap holds a partition back (it ran ahead): while held it is never idle, so event time cannot
   * run past it while it is not being read.
   */
  hold(partitionKey: string): void {
    const progress = this.partitions.get(partitionKey);
    if (progress !== undefined) progress.held = true;
  }

  /**
   * The tap reads a held partition again: it is as its last batch left it (caught up or not), and its
   * quiet time counts from now. A partition held at its end, with nothing more to deliver, would
   * otherwise hold event time back for good (measured: a backlog read to its end left 15 of 24
   * partitions so, and no window after them ever closed).
   */
  release(partitionKey: string, wall: number): void {
    const progress = this.partitions.get(partitionKey);
    if (progress === undefined || !progress.held) return;
    progress.held = false;
    progress.lastRecordWall = wall;
    progress.stalledAtRecord = this.stalledTotal;
  }

  /** How far a partition's watermark is ahead of event time at `wall` (+Infinity while event time is unknown). */
  lead(partitionKey: string, wall: number): number {
    const watermark = this.partitions.get(partitionKey)?.watermark ?? Number.NEGATIVE_INFINITY;
    const now = this.now(wall);
    if (watermark === Number.NEGATIVE_INFINITY) return 0;
    return now === Number.NEGATIVE_INFINITY ? Number.POSITIVE_INFINITY : watermark - now;
  }

  /**
   * The pipeline is stalled since wall time `since` (undefined: it is not, or no longer): from then
   * on, time without records is not quiet time for any partition. A `since` after `wall` takes
   * effect when it is reached.
   */
  stalled(since: number | undefined, wall: number): void {
    // Count the stall so far (a stall reported late counts from its start), then go on from `wall`.
    const from = this.stallStart ?? since;
    if (from !== undefined && wall > from) this.stalledTotal += wall - from;
    this.stallStart = since === undefined ? undefined : Math.max(since, wall);
  }

  /** Forgets partition progress (a rebalance changes the set of partitions); keeps the time. */
  resetPartitions(): void {
    this.partitions.clear();
  }

  /** Event time at wall time `wall`, in ms since the epoch; -Infinity before the first record. */
  now(wall: number): number {
    const { speed } = this.options;
    const idleMs = Math.max(this.options.idleMs, MIN_IDLE_WALL_MS * speed);
    let oldestActive = Number.POSITIVE_INFINITY;
    let anyActive = false;
    let idleAdvance = Number.NEGATIVE_INFINITY;
    for (const p of this.partitions.values()) {
      const ongoing =
        this.stallStart !== undefined && wall > this.stallStart
          ? wall - Math.max(this.stallStart, p.lastRecordWall)
          : 0;
      const quietFor = Math.max(0, wall - p.lastRecordWall - (this.stalledTotal - p.stalledAtRecord) - ongoing) * speed;
      if (p.held || !p.caughtUp || quietFor < idleMs) {
        anyActive = true;
        if (p.watermark < oldestActive) oldestActive = p.watermark;
      } else if (p.watermark > Number.NEGATIVE_INFINITY) {
        idleAdvance = Math.max(idleAdvance, p.watermark + quietFor - idleMs);
      }
    }
    const candidate = anyActive ? oldestActive : idleAdvance;
    if (candidate > this.current) this.current = candidate;
    return this.current;
  }
}
