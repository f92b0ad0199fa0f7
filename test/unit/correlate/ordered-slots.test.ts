// OrderedSlots: keys in insertion order, each in a slot that its owner's columns are indexed by.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_SLOT, OrderedSlots } from '../../../src/correlate/ordered-slots.js';
import { seededRandom } from '../../../src/sim/index.js';

test('add, touch and delete keep the order; a freed slot is reused; the owner grows its columns first', () => {
  const grown: number[] = [];
  const slots = new OrderedSlots((capacity) => grown.push(capacity), 2);
  const a = slots.add('a');
  const b = slots.add('b');
  assert.deepEqual(grown, [2]);
  const c = slots.add('c'); // full: grows to 4 before the slot is handed out
  assert.deepEqual(grown, [2, 4]);
  assert.ok(c < slots.capacity);
  assert.deepEqual(
    [a, b, c].map((s) => slots.keyOf(s)),
    ['a', 'b', 'c'],
  );
  assert.equal(slots.oldest(), a);
  slots.touch(a); // a is now the newest: b is the oldest
  assert.equal(slots.oldest(), b);
  slots.delete(b);
  assert.equal(slots.oldest(), c);
  assert.equal(slots.keyOf(b), undefined);
  assert.equal(slots.slotOf('b'), NO_SLOT);
  const d = slots.add('d');
  assert.equal(d, b, 'the freed slot is reused');
  assert.equal(slots.size, 3);
  // Oldest to newest: c, a, d.
  const order: string[] = [];
  while (slots.oldest() !== NO_SLOT) {
    const oldest = slots.oldest();
    order.push(slots.keyOf(oldest)!);
    slots.delete(oldest);
  }
  assert.deepEqual(order, ['c', 'a', 'd']);
  assert.equal(slots.size, 0);
});

test('against a reference (a Map used as an ordered list) over 20,000 random operations', () => {
  const random = seededRandom(11);
  const slots = new OrderedSlots(() => undefined, 4);
  const reference = new Map<string, number>(); // key -> slot, in order oldest first
  for (let step = 0; step < 20_000; step += 1) {
    const key = `k${Math.floor(random.uniform() * 300)}`;
    const slot = slots.slotOf(key);
    assert.equal(slot, reference.get(key) ?? NO_SLOT);
    const op = random.uniform();
    if (slot === NO_SLOT) {
      reference.set(key, slots.add(key));
    } else if (op < 0.4) {
      slots.touch(slot);
      reference.delete(key);
      reference.set(key, slot);
    } else if (op < 0.8) {
      slots.delete(slot);
      reference.delete(key);
    } else {
      const oldest = slots.oldest();
      const oldestKey = reference.keys().next().value!;
      assert.equal(slots.keyOf(oldest), oldestKey);
      slots.delete(oldest);
      reference.delete(oldestKey);
    }
    assert.equal(slots.size, reference.size);
  }
  const drained: string[] = [];
  for (let oldest = slots.oldest(); oldest !== NO_SLOT; oldest = slots.oldest()) {
    drained.push(slots.keyOf(oldest)!);
    slots.delete(oldest);
  }
  assert.deepEqual(drained, [...reference.keys()], 'oldest first, as the reference');
  assert.ok(slots.capacity <= 512, `slots are reused: capacity ${slots.capacity} for at most 300 keys`);
});
