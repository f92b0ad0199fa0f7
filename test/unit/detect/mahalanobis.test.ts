import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Baseline } from '../../../src/detect/baseline.js';
import { chiSquareCdf, chiSquareQuantile, chiSquareSurvival } from '../../../src/detect/chi-square.js';
import { WindowScorer } from '../../../src/detect/window-scorer.js';
import { seededRandom } from '../../fixtures/random.js';

const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);

/** A baseline that learns exactly the data (no forgetting, no shrinkage to speak of, tiny floors). */
function exactBaseline(d: number): Baseline {
  return new Baseline(d, { memoryWindows: Infinity, shrinkage: 1e-12, sigmaFloor: new Float64Array(d).fill(1e-9) });
}

/** Reference D² with an independent method: sample mean and biased covariance, Gauss-Jordan inverse. */
function referenceD2(rows: number[][], x: number[]): number {
  const n = rows.length;
  const d = x.length;
  const mu = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / n);
  const cov = Array.from({ length: d }, (_, i) =>
    Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + (r[i]! - mu[i]!) * (r[j]! - mu[j]!), 0) / n),
  );
  const aug = cov.map((row, i) => [...row, ...Array.from({ length: d }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < d; c += 1) {
    let pivot = c;
    for (let r = c + 1; r < d; r += 1) if (Math.abs(aug[r]![c]!) > Math.abs(aug[pivot]![c]!)) pivot = r;
    [aug[c], aug[pivot]] = [aug[pivot]!, aug[c]!];
    const p = aug[c]![c]!;
    for (let k = 0; k < 2 * d; k += 1) aug[c]![k]! /= p;
    for (let r = 0; r < d; r += 1) {
      if (r === c) continue;
      const f = aug[r]![c]!;
      for (let k = 0; k < 2 * d; k += 1) aug[r]![k] = aug[r]![k]! - f * aug[c]![k]!;
    }
  }
  const inv = aug.map((row) => row.slice(d));
  const delta = x.map((v, i) => v - mu[i]!);
  return delta.reduce((s, di, i) => s + di * inv[i]!.reduce((t, v, j) => t + v * delta[j]!, 0), 0);
}

describe('Mahalanobis scoring', () => {
  test('D² matches the closed form for a known 2-D covariance', () => {
    // Σ = [[4, 2], [2, 3]], Σ⁻¹ = [[3/8, −1/4], [−1/4, 1/2]]; x − μ = (2, 1) → D² = 1.
    // Four points μ ± u, μ ± v with u uᵀ + v vᵀ = 2Σ have exactly mean μ and biased covariance Σ.
    const mu = [10, 20];
    const u = [Math.sqrt(8), 4 / Math.sqrt(8)];
    const v = [0, 2];
    const baseline = exactBaseline(2);
    for (const [s, w] of [
      [1, u],
      [-1, u],
      [1, v],
      [-1, v],
    ] as const)
      baseline.learn(Float64Array.from(mu.map((m, i) => m + s * w[i]!)));
    close(baseline.score(Float64Array.from([12, 21])).d2, 1, 1e-9, 'D²');
  });

  test('D² matches an independent reference on random 6-D data, and contributions sum to D²', () => {
    const random = seededRandom(7);
    const rows = Array.from({ length: 200 }, () => {
      const a = random.normal();
      return [
        a,
        0.8 * a + 0.6 * random.normal(),
        random.normal() * 3,
        random.normal() + 5,
        a - random.normal(),
        random.normal() * 0.1,
      ];
    });
    const baseline = exactBaseline(6);
    for (const row of rows) baseline.learn(Float64Array.from(row));
    for (let t = 0; t < 20; t += 1) {
      const x = Array.from({ length: 6 }, () => random.normal() * 2);
      const { d2, contributions } = baseline.score(Float64Array.from(x));
      const reference = referenceD2(rows, x);
      close(d2, reference, 1e-7 * Math.max(1, reference), 'D² vs reference');
      close(
        contributions.reduce((s, c) => s + c, 0),
        d2,
        1e-9 * Math.max(1, d2),
        'Σ contributions',
      );
    }
  });

  test('a covariance estimated from 3 windows of 9 features stays invertible', () => {
    const random = seededRandom(3);
    const baseline = new Baseline(9, { memoryWindows: 360, shrinkage: 9, sigmaFloor: new Float64Array(9).fill(0.01) });
    for (let w = 0; w < 3; w += 1) baseline.learn(Float64Array.from({ length: 9 }, () => random.normal()));
    const { d2, contributions } = baseline.score(Float64Array.from({ length: 9 }, () => random.normal()));
    assert.ok(Number.isFinite(d2) && d2 >= 0, `D² = ${d2}`);
    assert.ok(contributions.every(Number.isFinite));
  });

  test("a joint shift inside every feature's ±3σ is flagged; a per-feature 3σ rule misses it", () => {
    const random = seededRandom(11);
    const d = 8;
    const scorer = new WindowScorer(d, {
      warmupWindows: 30,
      baseline: { memoryWindows: 1000, shrinkage: d, sigmaFloor: new Float64Array(d).fill(0.01) },
      threshold: { p: 0.999, stayP: 0.99, atOnceP: 0.999999, mode: 'chi2', empiricalWindow: 0, empiricalMinimum: 0 },
    });
    // Latency p50 and p95 move together (ρ ≈ 0.95); the rest independent.
    const normalWindow = () => {
      const z = random.normal();
      return Float64Array.from([
        z,
        0.95 * z + Math.sqrt(1 - 0.95 ** 2) * random.normal(),
        ...Array.from({ length: d - 2 }, () => random.normal()),
      ]);
    };
    let falseAlarms = 0;
    for (let w = 0; w < 600; w += 1) if (scorer.assess(normalWindow(), true).anomaly) falseAlarms += 1;
    assert.ok(falseAlarms <= 3, `${falseAlarms} false alarms in 600 normal windows at p = 0.999`);

    // p50 up by 1.5σ while p95 goes down by 1.5σ: each unremarkable alone, together impossible.
    const shifted = Float64Array.from([1.5, -1.5, 0, 0, 0, 0, 0, 0]);
    const sigma = scorer.baseline.sigma();
    const mean = scorer.baseline.mean;
    const perFeature3Sigma = [...shifted].some((v, i) => Math.abs(v - mean[i]!) > 3 * sigma[i]!);
    assert.equal(perFeature3Sigma, false, 'a per-feature 3σ rule does not flag it');
    const result = scorer.assess(shifted, true);
    assert.equal(result.anomaly, true, `D² ${result.score} vs threshold ${result.threshold}`);
    const top = [...result.contributions!]
      .map((c, i) => [c, i] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, 2)
      .map(([, i]) => i)
      .sort((a, b) => a - b);
    assert.deepEqual(top, [0, 1], 'the two moved features contribute most');
  });

  test('regression: a first window without a feature does not inflate its variance; the first observation sets its mean', () => {
    // Found by the demo test (1 run in about 20): when an agent's first window held requests but no
    // answer yet, its latency was learned as 0, so the first real latency (ln ≈ 6.4) was a deviation of
    // full size. σ of the latency came out about 1.2 for hundreds of windows, and the 5× latency spike
    // scored 8 against a threshold of 26: no alert.
    const random = seededRandom(3);
    const scorer = new WindowScorer(2, {
      warmupWindows: 30,
      baseline: { memoryWindows: 360, shrinkage: 2, sigmaFloor: new Float64Array(2).fill(0.05) },
      threshold: { p: 0.999, stayP: 0.99, atOnceP: 0.999999, mode: 'chi2', empiricalWindow: 0, empiricalMinimum: 0 },
    });
    scorer.assess(Float64Array.from([Number.NaN, 0.1]), true); // requests, no answer yet
    for (let w = 0; w < 40; w += 1)
      scorer.assess(Float64Array.from([6.4 + 0.02 * random.normal(), 1.4 + 0.02 * random.normal()]), true);
    close(scorer.baseline.mean[0]!, 6.4, 0.02, 'the latency mean is the observed one');
    assert.ok(scorer.baseline.sigma()[0]! < 0.06, `latency σ ${scorer.baseline.sigma()[0]} stays near the floor`);
    const spike = scorer.assess(Float64Array.from([6.4 + Math.log(5), 1.4]), true);
    assert.equal(spike.anomaly, true, `a 5× latency scores ${spike.score}`);
  });

  test('a feature never observed has no baseline yet: it does not count in the score', () => {
    const baseline = new Baseline(2, { memoryWindows: 100, shrinkage: 2, sigmaFloor: new Float64Array(2).fill(0.05) });
    for (let w = 0; w < 10; w += 1) baseline.learn(Float64Array.from([Number.NaN, 1 + 0.01 * w]));
    const { d2, contributions } = baseline.score(Float64Array.from([6.4, 1.05]));
    assert.equal(contributions[0], 0);
    assert.ok(d2 < 2, `D² ${d2}`);
  });

  test('warm-up windows are never flagged, and anomalous windows are not learned', () => {
    const scorer = new WindowScorer(2, {
      warmupWindows: 5,
      baseline: { memoryWindows: 100, shrinkage: 2, sigmaFloor: new Float64Array(2).fill(0.1) },
      threshold: { p: 0.999, stayP: 0.99, atOnceP: 0.999999, mode: 'chi2', empiricalWindow: 0, empiricalMinimum: 0 },
    });
    for (let w = 0; w < 5; w += 1) {
      const r = scorer.assess(Float64Array.from([w === 2 ? 1000 : 1 + w * 0.01, 2]), true);
      assert.deepEqual([r.anomaly, r.score], [false, null]);
    }
    const meanBefore = scorer.baseline.mean.slice();
    const spike = scorer.assess(Float64Array.from([5000, 2]), true);
    assert.equal(spike.anomaly, true);
    assert.deepEqual(scorer.baseline.mean, meanBefore, 'the anomalous window did not move the baseline');
  });
});

describe('χ² distribution', () => {
  test('quantiles match published values', () => {
    close(chiSquareQuantile(0.95, 1), 3.841459, 1e-5, 'χ²₁(0.95)');
    close(chiSquareQuantile(0.999, 2), 13.815511, 1e-5, 'χ²₂(0.999)');
    close(chiSquareQuantile(0.999, 8), 26.124482, 1e-5, 'χ²₈(0.999)');
    close(chiSquareQuantile(0.999, 16), 39.252354, 1e-5, 'χ²₁₆(0.999)');
    close(chiSquareCdf(26.124482, 8), 0.999, 1e-7, 'CDF at the quantile');
  });

  test('tiny p-values are computed, not rounded to 0 (closed forms for even k)', () => {
    // k = 2: e^(−x/2); k = 4: e^(−x/2)(1 + x/2).
    for (const [x, k, exact] of [
      [5, 2, Math.exp(-2.5)],
      [100, 4, Math.exp(-50) * 51],
      [400, 2, Math.exp(-200)],
      [1, 4, Math.exp(-0.5) * 1.5],
    ] as const) {
      const p = chiSquareSurvival(x, k);
      assert.ok(Math.abs(p - exact) <= 1e-9 * exact, `χ²${k} survival at ${x}: ${p}, expected ${exact}`);
    }
  });
});
