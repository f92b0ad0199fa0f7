// A binary min-heap of items by their deadline: tasks time out in deadline order, whatever order their
// requests were read in (a backlog is read partition by partition, not in time order). The items are
// kept as they are (no wrapper per entry); an item's deadline must not change while it is queued.

export class DeadlineHeap<T extends { readonly deadline: number }> {
  private entries: T[] = [];

  get size(): number {
    return this.entries.length;
  }

  push(entry: T): void {
    const deadline = entry.deadline;
    const entries = this.entries;
    entries.push(entry);
    let i = entries.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (entries[parent]!.deadline <= deadline) break;
      entries[i] = entries[parent]!;
      i = parent;
    }
    entries[i] = entry;
  }

  /** The earliest deadline, or +Infinity when empty. */
  peekDeadline(): number {
    return this.entries.length === 0 ? Number.POSITIVE_INFINITY : this.entries[0]!.deadline;
  }

  /** Removes and returns the item with the earliest deadline. */
  pop(): T | undefined {
    const entries = this.entries;
    const top = entries[0];
    if (top === undefined) return undefined;
    const last = entries.pop()!;
    if (entries.length > 0) this.siftDown(last);
    return top;
  }

  /** Keeps only the items `keep` accepts (dropping stale entries), in O(n). */
  retain(keep: (item: T) => boolean): void {
    this.entries = this.entries.filter(keep);
    for (let i = (this.entries.length >> 1) - 1; i >= 0; i -= 1) this.siftDownFrom(i);
  }

  private siftDown(entry: T): void {
    this.entries[0] = entry;
    this.siftDownFrom(0);
  }

  private siftDownFrom(start: number): void {
    const entries = this.entries;
    const n = entries.length;
    const entry = entries[start]!;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && entries[right]!.deadline < entries[left]!.deadline ? right : left;
      if (entries[child]!.deadline >= entry.deadline) break;
      entries[i] = entries[child]!;
      i = child;
    }
    entries[i] = entry;
  }
}
