// A binary min-heap of (deadline, item): tasks time out in deadline order, whatever order their
// requests were read in (a backlog is read partition by partition, not in time order).

interface Entry<T> {
  deadline: number;
  item: T;
}

export class DeadlineHeap<T> {
  private entries: Array<Entry<T>> = [];

  get size(): number {
    return this.entries.length;
  }

  push(deadline: number, item: T): void {
    const entries = this.entries;
    const entry = { deadline, item };
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
    return top.item;
  }

  /** Keeps only the items `keep` accepts (dropping stale entries), in O(n). */
  retain(keep: (item: T) => boolean): void {
    this.entries = this.entries.filter((entry) => keep(entry.item));
    for (let i = (this.entries.length >> 1) - 1; i >= 0; i -= 1) this.siftDownFrom(i);
  }

  private siftDown(entry: Entry<T>): void {
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
