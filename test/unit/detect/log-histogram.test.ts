import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogHistogram } from '../../../src/detect/log-histogram.js';
import { lognormal, seededRandom } from '../../../src/sim/index.js';

const LOG_GAMMA = Math.log(1.02);
const bucketOf = (v: number) => Math.ceil(Math.log1p(v) / LOG_GAMMA);

/** The same answers computed from the values themselves, bucket by bucket. */
function reference(values: number[]) {
  const buckets = values.map(bucketOf).sort((a, b) => a - b);
  return {
    countAbove: (v: number) => buckets.filter((b) => b > bucketOf(v)).length,
    momentsUpTo: (v: number) => {
      const logs = buckets.filter((b) => b <= bucketOf(v)).map((b) => (b - 0.5) * LOG_GAMMA);
      return {
        count: logs.length,
        sumLog: logs.reduce((s, l) => s + l, 0),
        sumLogSquares: logs.reduce((s, l) => s + l * l, 0),
      };
    },
    quantile: (q: number) => Math.exp((buckets[Math.max(1, Math.ceil(q * buckets.length)) - 1]! - 0.5) * LOG_GAMMA) - 1,
  };
}

test('counts, moments and quantiles agree with the values bucket by bucket, merged, packed or not', () => {
  const random = seededRandom(7);
  for (const [n, median, sigma] of [
    [1, 100, 0.5],
    [5, 2_000, 0.3],
    [300, 50, 1],
    [5_000, 4_000, 2],
  ] as const) {
    const values = Array.from({ length: n }, () => lognormal(random, median, sigma));
    values.push(0, 0); // zero-size payloads happen
    const whole = new LogHistogram();
    for (const v of values) whole.add(v);
    // The same values in three histograms merged in another order.
    const parts = [new LogHistogram(), new LogHistogram(), new LogHistogram()];
    values.forEach((v, i) => parts[i % 3]!.add(v));
    const merged = new LogHistogram();
    for (const part of parts.reverse()) merged.merge(part);
    merged.merge(new LogHistogram());
    // And packed (as a closed window keeps them), then merged into one that holds a part already.
    const unpacked = new LogHistogram();
    unpacked.merge(parts[0]!);
    const packed: number[] = [];
    for (const part of [parts[1]!, new LogHistogram(), parts[2]!]) part.pack(packed);
    let at = 0;
    for (let k = 0; k < 3; k += 1) at = unpacked.mergePacked(packed, at);
    assert.equal(at, packed.length);
    const expected = reference(values);
    for (const h of [whole, merged, unpacked]) {
      assert.equal(h.count, values.length);
      for (const q of [0, 0.25, 0.5, 0.95, 1]) assert.equal(h.quantile(q), expected.quantile(q), `n ${n}, q ${q}`);
      for (const at of [0, median / 3, median, median * 3, 1e12]) {
        assert.equal(h.countAbove(at), expected.countAbove(at), `n ${n}, above ${at}`);
        const moments = h.momentsUpTo(at);
        const want = expected.momentsUpTo(at);
        assert.equal(moments.count, want.count);
        assert.ok(Math.abs(moments.sumLog - want.sumLog) <= 1e-9 * Math.max(1, Math.abs(want.sumLog)));
        assert.ok(Math.abs(moments.sumLogSquares - want.sumLogSquares) <= 1e-9 * Math.max(1, want.sumLogSquares));
      }
    }
  }
});

test('an empty histogram: no quantile, nothing above or below; negative and NaN values are ignored', () => {
  const h = new LogHistogram();
  h.add(-1);
  h.add(Number.NaN);
  assert.equal(h.count, 0);
  assert.ok(Number.isNaN(h.quantile(0.5)));
  assert.equal(h.countAbove(0), 0);
  assert.deepEqual(h.momentsUpTo(1e9), { count: 0, sumLog: 0, sumLogSquares: 0 });
});

test('a quantile is within 2 % of the true value (the bucket ratio)', () => {
  const h = new LogHistogram();
  const values = Array.from({ length: 1_000 }, (_, i) => 10 + i * 7);
  for (const v of values) h.add(v);
  for (const q of [0.5, 0.9, 0.99]) {
    const exact = values[Math.ceil(q * values.length) - 1]!;
    assert.ok(Math.abs(h.quantile(q) - exact) <= 0.02 * (exact + 1), `q ${q}: ${h.quantile(q)} vs ${exact}`);
  }
});

test('a packed cell holds any bucket and a count past 2¹⁶ exactly', () => {
  const h = new LogHistogram();
  for (let i = 0; i < 70_000; i += 1) h.add(0);
  h.add(Number.MAX_VALUE); // the largest bucket there is
  h.add(1e-300);
  const packed: number[] = [];
  h.pack(packed);
  const back = new LogHistogram();
  assert.equal(back.mergePacked(packed, 0), packed.length);
  assert.equal(back.count, 70_002);
  assert.equal(back.countAbove(0), h.countAbove(0));
  assert.equal(back.countAbove(1e300), 1);
  for (const q of [0, 0.5, 0.99999, 1]) assert.equal(back.quantile(q), h.quantile(q));
  assert.deepEqual(back.momentsUpTo(1), h.momentsUpTo(1));
});
