// OrderedTable: insertion order with moves to the newest place, on values that carry their own links.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OrderedTable, orderedEntry, type OrderedEntry } from '../../../src/correlate/ordered-table.js';

const keysOf = (table: OrderedTable<OrderedEntry<number>>) => [...table.values()].map((e) => e.key);

test('values come oldest first; set moves a key to the newest place; delete and oldest keep the order', () => {
  const table = new OrderedTable<OrderedEntry<number>>();
  for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) table.set(orderedEntry(key, i));
  assert.deepEqual(keysOf(table), ['a', 'b', 'c', 'd']);

  table.set(table.get('b')!); // the same value again: moved, not duplicated
  assert.deepEqual(keysOf(table), ['a', 'c', 'd', 'b']);
  table.set(orderedEntry('a', 10)); // a new value under a key: replaces it, as the newest
  assert.deepEqual(keysOf(table), ['c', 'd', 'b', 'a']);
  assert.equal(table.get('a')!.value, 10);
  assert.equal(table.size, 4);

  assert.equal(table.delete('d'), true);
  assert.equal(table.delete('d'), false);
  assert.deepEqual(keysOf(table), ['c', 'b', 'a']);
  assert.equal(table.oldest()!.key, 'c');
  table.delete('c');
  table.delete('a');
  assert.equal(table.oldest()!.key, 'b');
  assert.deepEqual(keysOf(table), ['b']);
  table.delete('b');
  assert.equal(table.oldest(), undefined);
  assert.equal(table.size, 0);
  assert.deepEqual(keysOf(table), []);
});

test('used as a queue (delete the oldest, add the newest) through 300,000 keys, it keeps the order', () => {
  const table = new OrderedTable<OrderedEntry<number>>();
  for (let i = 0; i < 100_000; i += 1) table.set(orderedEntry(`k${i}`, i));
  for (let i = 100_000; i < 300_000; i += 1) {
    table.delete(table.oldest()!.key);
    table.set(orderedEntry(`k${i}`, i));
  }
  assert.equal(table.size, 100_000);
  assert.equal(table.oldest()!.value, 200_000);
});
