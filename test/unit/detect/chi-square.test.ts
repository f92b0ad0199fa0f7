// The χ² distribution: quantiles and tail probabilities.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chiSquareCdf, chiSquareQuantile, chiSquareSurvival } from '../../../src/detect/chi-square.js';

const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);

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
