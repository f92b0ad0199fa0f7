// Baseline: D² against a learned mean and covariance (shrinkage, floors, missing features), checked
// against closed forms and an independent reference.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Baseline } from '../../../src/detect/baseline.js';
import { seededRandom } from '../../../src/sim/index.js';

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

describe('Baseline: Mahalanobis D²', () => {
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

  test('a feature never observed has no baseline yet: it does not count in the score', () => {
    const baseline = new Baseline(2, { memoryWindows: 100, shrinkage: 2, sigmaFloor: new Float64Array(2).fill(0.05) });
    for (let w = 0; w < 10; w += 1) baseline.learn(Float64Array.from([Number.NaN, 1 + 0.01 * w]));
    const { d2, contributions } = baseline.score(Float64Array.from([6.4, 1.05]));
    assert.equal(contributions[0], 0);
    assert.ok(d2 < 2, `D² ${d2}`);
  });
});
