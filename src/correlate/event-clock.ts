// The event-time clock that decides when an unanswered task has timed out.
//
// Taking the newest timestamp seen would time out requests whose answers are merely unread: while the
// tap catches up, a tasks partition can be read far ahead of its results partition. So the clock is
// the oldest "last seen" timestamp among partitions that still have a backlog; once every partition
// is caught up, it is the newest timestamp seen. It never goes backwards.
//
// A partition with a backlog holds the clock back before it delivered anything: the tap announces
// such partitions with expect() when it joins the group, before their first batch.

export class EventClock {
  private readonly partitions = new Map<string, { lastTimestamp: number; caughtUp: boolean }>();
  private current = Number.NEGATIVE_INFINITY;

  /** Records the progress of one partition after a batch: its newest timestamp and whether it has no backlog. */
  observe(partitionKey: string, lastTimestamp: number, caughtUp: boolean): void {
    const previous = this.partitions.get(partitionKey);
    this.partitions.set(partitionKey, { lastTimestamp: Math.max(lastTimestamp, previous?.lastTimestamp ?? Number.NEGATIVE_INFINITY), caughtUp });
    this.current = Math.max(this.current, this.compute());
  }

  /** Forgets partition progress (after a rebalance the set of partitions changes); keeps the time. */
  resetPartitions(): void {
    this.partitions.clear();
  }

  /** Announces a partition with a backlog that has not delivered yet: time stands still until it does. */
  expect(partitionKey: string): void {
    if (!this.partitions.has(partitionKey)) this.partitions.set(partitionKey, { lastTimestamp: Number.NEGATIVE_INFINITY, caughtUp: false });
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
