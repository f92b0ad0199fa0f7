// A binary min-heap of (deadline, slot) pairs: tasks time out in deadline order, whatever order their
// requests were read in (a backlog is read partition by partition, not in time order). The pairs
// live in two typed arrays, so the heap holds no object per task. An entry may outlive its task
// (answered, retried or evicted since): the owner checks the slot when the entry comes up.

export class DeadlineHeap {
  private deadlines = new Float64Array(1024);
  private slots = new Int32Array(1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(deadline: number, slot: number): void {
    if (this.count === this.deadlines.length) this.growTo(this.count * 2);
    const { deadlines, slots } = this;
    let i = this.count;
    this.count += 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (deadlines[parent]! <= deadline) break;
      deadlines[i] = deadlines[parent]!;
      slots[i] = slots[parent]!;
      i = parent;
    }
    deadlines[i] = deadline;
    slots[i] = slot;
  }

  /** The earliest deadline, or +Infinity when empty. */
  peekDeadline(): number {
    return this.count === 0 ? Number.POSITIVE_INFINITY : this.deadlines[0]!;
  }

  /** The slot of the earliest deadline (only when not empty). */
  peekSlot(): number {
    return this.slots[0]!;
  }

  /** Removes the entry with the earliest deadline. */
  pop(): void {
    if (this.count === 0) return;
    this.count -= 1;
    if (this.count > 0) this.siftDown(0, this.deadlines[this.count]!, this.slots[this.count]!);
  }

  /** Keeps only the entries `keep` accepts (dropping stale ones), in O(n). */
  retain(keep: (deadline: number, slot: number) => boolean): void {
    const { deadlines, slots } = this;
    let kept = 0;
    for (let i = 0; i < this.count; i += 1) {
      if (!keep(deadlines[i]!, slots[i]!)) continue;
      deadlines[kept] = deadlines[i]!;
      slots[kept] = slots[i]!;
      kept += 1;
    }
    this.count = kept;
    for (let i = (kept >> 1) - 1; i >= 0; i -= 1) this.siftDown(i, deadlines[i]!, slots[i]!);
    // Give back what a backlog's burst of tasks took, once most of it is free.
    if (this.deadlines.length > 4096 && kept < this.deadlines.length >> 2) this.growTo(this.deadlines.length >> 1);
  }

  /** Places (deadline, slot) at `start` or below it, moving smaller children up. */
  private siftDown(start: number, deadline: number, slot: number): void {
    const { deadlines, slots } = this;
    const n = this.count;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && deadlines[right]! < deadlines[left]! ? right : left;
      if (deadlines[child]! >= deadline) break;
      deadlines[i] = deadlines[child]!;
      slots[i] = slots[child]!;
      i = child;
    }
    deadlines[i] = deadline;
    slots[i] = slot;
  }

  private growTo(capacity: number): void {
    const deadlines = new Float64Array(capacity);
    deadlines.set(this.deadlines.subarray(0, this.count));
    const slots = new Int32Array(capacity);
    slots.set(this.slots.subarray(0, this.count));
    this.deadlines = deadlines;
    this.slots = slots;
  }
}
