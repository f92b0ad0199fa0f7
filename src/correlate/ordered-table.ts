// An insertion-ordered key→value table with O(1) get, set, delete, oldest and move-to-newest.
// A plain Map would do, except that V8 leaves a hole for every deleted entry until it rehashes, so
// repeatedly reading the oldest entry of a Map used as a queue scans those holes: quadratic time.
//
// The values carry their key and their links themselves (Ordered), so the table allocates nothing
// per entry or per move: a node object per entry was 11 MB at 200,000 tasks, and the detector moves
// its agent to the newest place on every event. A value is in at most one table at a time; a value
// that cannot carry links (it is cloned or serialized) goes in an OrderedEntry.

/** What a value carries to be kept in an OrderedTable; the table sets `older` and `newer`. */
export interface Ordered<V> {
  readonly key: string;
  older: V | undefined;
  newer: V | undefined;
}

/** A value kept apart from its links. */
export interface OrderedEntry<T> extends Ordered<OrderedEntry<T>> {
  value: T;
}

export function orderedEntry<T>(key: string, value: T): OrderedEntry<T> {
  return { key, value, older: undefined, newer: undefined };
}

export class OrderedTable<V extends Ordered<V>> {
  private readonly byKey = new Map<string, V>();
  private oldestValue: V | undefined;
  private newestValue: V | undefined;

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): V | undefined {
    return this.byKey.get(key);
  }

  /** Files `value` under its key, in place of what was there, as the newest. */
  set(value: V): void {
    const existing = this.byKey.get(value.key);
    if (existing !== undefined) this.unlink(existing);
    if (existing !== value) this.byKey.set(value.key, value);
    value.older = this.newestValue;
    value.newer = undefined;
    if (this.newestValue !== undefined) this.newestValue.newer = value;
    this.newestValue = value;
    this.oldestValue ??= value;
  }

  delete(key: string): boolean {
    const value = this.byKey.get(key);
    if (value === undefined) return false;
    this.unlink(value);
    this.byKey.delete(key);
    return true;
  }

  /** The oldest value, or undefined when empty. */
  oldest(): V | undefined {
    return this.oldestValue;
  }

  /** Values from oldest to newest. Do not add or delete while iterating. */
  *values(): IterableIterator<V> {
    for (let value = this.oldestValue; value !== undefined; value = value.newer) yield value;
  }

  private unlink(value: V): void {
    if (value.older === undefined) this.oldestValue = value.newer;
    else value.older.newer = value.newer;
    if (value.newer === undefined) this.newestValue = value.older;
    else value.newer.older = value.older;
    value.older = undefined;
    value.newer = undefined;
  }
}
