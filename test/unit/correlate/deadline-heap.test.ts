// DeadlineHeap: (deadline, slot) pairs come out in deadline order; retain drops stale entries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineHeap } from '../../../src/correlate/deadline-heap.js';
import { seededRandom } from '../../../src/sim/index.js';

function drain(heap: DeadlineHeap): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  while (heap.size > 0) {
    out.push([heap.peekDeadline(), heap.peekSlot()]);
    heap.pop();
  }
  return out;
}

test('pairs come out in deadline order, past its initial capacity; empty reads +Infinity', () => {
  const random = seededRandom(5);
  const heap = new DeadlineHeap();
  const pushed: Array<[number, number]> = [];
  for (let slot = 0; slot < 5_000; slot += 1) {
    const deadline = Math.floor(random.uniform() * 1e6);
    heap.push(deadline, slot);
    pushed.push([deadline, slot]);
  }
  const drained = drain(heap);
  assert.deepEqual(
    drained.map(([deadline]) => deadline),
    pushed.map(([deadline]) => deadline).sort((a, b) => a - b),
  );
  assert.deepEqual(
    drained.map(([, slot]) => slot).sort((a, b) => a - b),
    pushed.map(([, slot]) => slot),
    'every slot comes out once, with its own deadline',
  );
  for (const [deadline, slot] of drained) assert.equal(deadline, pushed[slot]![0]);
  assert.equal(heap.peekDeadline(), Number.POSITIVE_INFINITY);
  heap.pop(); // popping an empty heap does nothing
  assert.equal(heap.size, 0);
});

test('retain keeps the accepted entries, still in order, and gives back room after a burst', () => {
  const heap = new DeadlineHeap();
  for (let slot = 0; slot < 20_000; slot += 1) heap.push(20_000 - slot, slot);
  heap.retain((_, slot) => slot % 10 === 0);
  assert.equal(heap.size, 2_000);
  const drained = drain(heap);
  assert.deepEqual(
    drained.map(([, slot]) => slot),
    Array.from({ length: 2_000 }, (_, i) => 19_990 - i * 10),
  );
  for (let slot = 0; slot < 3; slot += 1) heap.push(slot, slot);
  assert.deepEqual(drain(heap), [
    [0, 0],
    [1, 1],
    [2, 2],
  ]);
});
