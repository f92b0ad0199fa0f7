import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEAP_HEADROOM, heapLimitWarning, heapNeeded } from '../../src/heap-budget.js';

const defaults = { detect: { maxAgents: 10_000 }, correlate: { maxInFlight: 100_000, maxRecent: 100_000 } };
const MB = 2 ** 20;

test('the heap the default caps need is what the memory bench measured at them (112–131 MB live)', () => {
  const needed = heapNeeded(defaults) / MB;
  assert.ok(needed >= 112 && needed <= 140, `${needed} MB`);
});

test('a heap limit below the headroom names the caps, the limit wanted and how to set it', () => {
  const warning = heapLimitWarning(128 * MB, defaults);
  assert.ok(warning !== undefined);
  const wanted = Math.ceil((HEAP_HEADROOM * heapNeeded(defaults)) / MB);
  assert.match(warning, /the V8 heap limit is 128 MB/);
  assert.match(warning, /DETECT_MAX_AGENTS=10000, CORRELATE_MAX_INFLIGHT=100000, CORRELATE_MAX_RECENT=100000/);
  assert.ok(warning.includes(`NODE_OPTIONS=--max-old-space-size=${wanted}`), warning);
  // Enough: none. Node's default limit on a machine with a few GB is far above.
  assert.equal(heapLimitWarning(wanted * MB, defaults), undefined);
  assert.equal(heapLimitWarning(2_048 * MB, defaults), undefined);
  // More agents need more: the same 256 MB that fits the defaults does not fit 50,000 agents.
  assert.equal(heapLimitWarning(256 * MB, defaults), undefined);
  assert.ok(heapLimitWarning(256 * MB, { ...defaults, detect: { maxAgents: 50_000 } }) !== undefined);
});
