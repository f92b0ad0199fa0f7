// An insertion-ordered key→value table with O(1) get, set, delete, oldest and move-to-newest.
// A plain Map would do, except that V8 leaves a hole for every deleted entry until it rehashes, so
// repeatedly reading the oldest entry of a Map used as a queue scans those holes: quadratic time.

interface Node<V> {
  key: string;
  value: V;
  older: Node<V> | undefined;
  newer: Node<V> | undefined;
}

export class OrderedTable<V> {
  private readonly nodes = new Map<string, Node<V>>();
  private oldestNode: Node<V> | undefined;
  private newestNode: Node<V> | undefined;

  get size(): number {
    return this.nodes.size;
  }

  get(key: string): V | undefined {
    return this.nodes.get(key)?.value;
  }

  /** Sets the value and makes the key the newest. */
  set(key: string, value: V): void {
    const existing = this.nodes.get(key);
    if (existing !== undefined) this.unlink(existing);
    const node: Node<V> = { key, value, older: this.newestNode, newer: undefined };
    if (this.newestNode !== undefined) this.newestNode.newer = node;
    this.newestNode = node;
    this.oldestNode ??= node;
    this.nodes.set(key, node);
  }

  delete(key: string): boolean {
    const node = this.nodes.get(key);
    if (node === undefined) return false;
    this.unlink(node);
    this.nodes.delete(key);
    return true;
  }

  /** The oldest entry, or undefined when empty. */
  oldest(): { key: string; value: V } | undefined {
    const node = this.oldestNode;
    return node === undefined ? undefined : { key: node.key, value: node.value };
  }

  /** Entries from oldest to newest. Do not add or delete while iterating. */
  *entries(): IterableIterator<[string, V]> {
    for (let node = this.oldestNode; node !== undefined; node = node.newer) yield [node.key, node.value];
  }

  private unlink(node: Node<V>): void {
    if (node.older === undefined) this.oldestNode = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === undefined) this.newestNode = node.older;
    else node.newer.older = node.older;
    node.older = undefined;
    node.newer = undefined;
  }
}
