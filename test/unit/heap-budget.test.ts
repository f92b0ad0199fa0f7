import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEAP_HEADROOM, heapLimitWarning, heapNeeded } from '../../src/heap-budget.js';

const defaults = {
  detect: { maxAgents: 10_000 },
  correlate: { maxInFlight: 100_000, maxRecent: 100_000 },
  ingest: { maxPendingRecords: 50_000 },
};
const MB = 2 ** 20;

test('the heap the default caps need: the tables as the memory bench measured them, and the records of a backlog being read', () => {
  // The memory bench's live heap with full tables (no backlog, few records held): 112–131 MB.
  const tables = heapNeeded({ ...defaults, ingest: { maxPendingRecords: 0 } }) / MB;
  assert.ok(tables >= 112 && tables <= 170, `${tables} MB`);
  // Catching up a backlog on the test broker ran out of memory with a 190 MB heap (after 79 s) and not with 256 MB (90 s).
  const needed = heapNeeded(defaults) / MB;
  assert.ok(needed > 190 && needed <= 256, `${needed} MB`);
});

test('a heap limit below the headroom names the caps, the limit wanted and how to set it', () => {
  const warning = heapLimitWarning(128 * MB, defaults);
  assert.ok(warning !== undefined);
  const wanted = Math.ceil((HEAP_HEADROOM * heapNeeded(defaults)) / MB);
  assert.match(warning, /the V8 heap limit is 128 MB/);
  assert.match(
    warning,
    /DETECT_MAX_AGENTS=10000, CORRELATE_MAX_INFLIGHT=100000, CORRELATE_MAX_RECENT=100000, INGEST_MAX_PENDING_RECORDS=50000/,
  );
  assert.ok(warning.includes(`NODE_OPTIONS=--max-old-space-size=${wanted}`), warning);
  // Enough: none. Node's default limit on a machine with a few GB is far above.
  assert.equal(heapLimitWarning(wanted * MB, defaults), undefined);
  assert.equal(heapLimitWarning(2_048 * MB, defaults), undefined);
  // More agents need more: the 512 MB that fits the defaults does not fit 50,000 agents.
  assert.equal(heapLimitWarning(512 * MB, defaults), undefined);
  assert.ok(heapLimitWarning(512 * MB, { ...defaults, detect: { maxAgents: 50_000 } }) !== undefined);
});
