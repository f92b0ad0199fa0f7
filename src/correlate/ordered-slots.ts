// Keys in insertion order, each given a slot: a small integer under which its owner keeps the key's
// values in columns (typed arrays and plain arrays indexed by slot), so that a table of 100,000
// tasks holds no object per task. Get, add, delete, move-to-newest and oldest are O(1); a slot
// freed by a delete is reused by a later add. The slots grow by doubling, and the owner grows its
// columns with them (the `grow` callback).
//
// A Map from key to slot does the lookup; the order is a doubly linked list in two Int32Arrays
// (a plain Map used as a queue scans the holes its deletes leave: see OrderedTable).

/** No slot: an absent key, or the end of the list. */
export const NO_SLOT = -1;

export class OrderedSlots {
  private readonly slotByKey = new Map<string, number>();
  private keys: Array<string | undefined> = [];
  /** The next older slot (NO_SLOT: the oldest); for a free slot, unused. */
  private older = new Int32Array(0);
  /** The next newer slot (NO_SLOT: the newest); for a free slot, the next free one. */
  private newer = new Int32Array(0);
  private oldestSlot = NO_SLOT;
  private newestSlot = NO_SLOT;
  private firstFree = NO_SLOT;

  /** `grow(capacity)`: the owner makes its columns hold `capacity` slots (keeping slots below the old capacity). */
  constructor(
    private readonly grow: (capacity: number) => void,
    private readonly initialCapacity = 1024,
  ) {}

  get size(): number {
    return this.slotByKey.size;
  }

  get capacity(): number {
    return this.keys.length;
  }

  /** The key's slot, or NO_SLOT. */
  slotOf(key: string): number {
    return this.slotByKey.get(key) ?? NO_SLOT;
  }

  /** The key in `slot`, or undefined when the slot is free. */
  keyOf(slot: number): string | undefined {
    return this.keys[slot];
  }

  /** Files `key` (absent) in a slot of its own, as the newest, and returns the slot. */
  add(key: string): number {
    if (this.firstFree === NO_SLOT) this.growSlots();
    const slot = this.firstFree;
    this.firstFree = this.newer[slot]!;
    this.keys[slot] = key;
    this.slotByKey.set(key, slot);
    this.link(slot);
    return slot;
  }

  /** Makes `slot` the newest. */
  touch(slot: number): void {
    if (slot === this.newestSlot) return;
    this.unlink(slot);
    this.link(slot);
  }

  /** Removes the key in `slot` and frees the slot. */
  delete(slot: number): void {
    this.slotByKey.delete(this.keys[slot]!);
    this.keys[slot] = undefined;
    this.unlink(slot);
    this.newer[slot] = this.firstFree;
    this.firstFree = slot;
  }

  /** The oldest slot, or NO_SLOT when empty. */
  oldest(): number {
    return this.oldestSlot;
  }

  private link(slot: number): void {
    this.older[slot] = this.newestSlot;
    this.newer[slot] = NO_SLOT;
    if (this.newestSlot === NO_SLOT) this.oldestSlot = slot;
    else this.newer[this.newestSlot] = slot;
    this.newestSlot = slot;
  }

  private unlink(slot: number): void {
    const older = this.older[slot]!;
    const newer = this.newer[slot]!;
    if (older === NO_SLOT) this.oldestSlot = newer;
    else this.newer[older] = newer;
    if (newer === NO_SLOT) this.newestSlot = older;
    else this.older[newer] = older;
  }

  private growSlots(): void {
    const from = this.keys.length;
    const capacity = from === 0 ? this.initialCapacity : from * 2;
    this.older = grownInt32(this.older, capacity);
    this.newer = grownInt32(this.newer, capacity);
    for (let slot = from; slot < capacity; slot += 1) {
      this.keys.push(undefined);
      this.newer[slot] = slot + 1 < capacity ? slot + 1 : NO_SLOT;
    }
    this.firstFree = from;
    this.grow(capacity);
  }
}

export function grownInt32(column: Int32Array, capacity: number): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(capacity);
  grown.set(column);
  return grown;
}

export function grownFloat64(column: Float64Array, capacity: number): Float64Array<ArrayBuffer> {
  const grown = new Float64Array(capacity);
  grown.set(column);
  return grown;
}

export function grownUint8(column: Uint8Array, capacity: number): Uint8Array<ArrayBuffer> {
  const grown = new Uint8Array(capacity);
  grown.set(column);
  return grown;
}

/** A column of references grown to `capacity` with `fill` (kept packed: no holes). */
export function grownColumn<T>(column: T[], capacity: number, fill: T): void {
  while (column.length < capacity) column.push(fill);
}
