// The event-time clock that decides when an unanswered task has timed out.
//
// Taking the newest timestamp seen would time out requests whose answers are merely unread: while the
// tap catches up, a tasks partition can be read far ahead of its results partition. So the clock is
// the oldest "last seen" timestamp among partitions that still have a backlog; once every partition
// is caught up, it is the newest timestamp seen. It never goes backwards.
//
// Limit: a partition with a backlog counts only once it has delivered a batch. The tap fetches every
// assigned partition at once, so this matters only if one partition's first batch comes after
// another has advanced the clock by more than the task TTL.

export class EventClock {
  private readonly partitions = new Map<string, { lastTimestamp: number; caughtUp: boolean }>();
  private current = Number.NEGATIVE_INFINITY;

  /** Records the progress of one partition after a batch: its newest timestamp and whether it has no backlog. */
  observe(partitionKey: string, lastTimestamp: number, caughtUp: boolean): void {
    const previous = this.partitions.get(partitionKey);
    this.partitions.set(partitionKey, { lastTimestamp: Math.max(lastTimestamp, previous?.lastTimestamp ?? lastTimestamp), caughtUp });
    this.current = Math.max(this.current, this.compute());
  }

  /** Forgets partition progress (after a rebalance the set of partitions changes); keeps the time. */
  resetPartitions(): void {
    this.partitions.clear();
  }

  /** Event time now, in ms since the epoch; -Infinity before the first observation. */
  now(): number {
    return this.current;
  }

  private compute(): number {
    let newest = Number.NEGATIVE_INFINITY;
    let oldestLagging = Number.POSITIVE_INFINITY;
    for (const { lastTimestamp, caughtUp } of this.partitions.values()) {
      newest = Math.max(newest, lastTimestamp);
      if (!caughtUp) oldestLagging = Math.min(oldestLagging, lastTimestamp);
    }
    return Math.min(newest, oldestLagging);
  }
}
