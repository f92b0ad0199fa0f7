// Count-aware evidence: how far a window's counts and samples are from what the baseline expects,
// as a signed z (positive: higher than expected), honest about sample size. A proportion from 4
// tasks or a mean of 3 latencies gives a small z however extreme it looks; the same shift over 400
// tasks gives a large one.
//
// Counts use exact tail probabilities with the mid-p correction (Lancaster 1961), turned into z by
// the normal quantile: z = Φ⁻¹(1 − p⁺), p⁺ = P(X > k) + ½ P(X = k). Mid-p makes z of a discrete
// count centred and close to N(0, 1) even for a handful of events, where the plain normal
// approximation (k − np)/√(np(1 − p)) is far off. Means of n samples use z = (m − μ) / (σ / √n).

import { gammaTails, logGamma } from './chi-square.js';

/** The largest |z| reported: beyond it, tail probabilities are below double precision anyway. */
export const MAX_Z = 38;

/** Φ⁻¹(p): Acklam's rational approximation (relative error < 1.2e-9), for 0 < p < 1. */
export function normalQuantile(p: number): number {
  if (p <= 0) return -MAX_Z;
  if (p >= 1) return MAX_Z;
  const a = [
    -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
    2.506628277459239,
  ];
  const b = [
    -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1,
  ];
  const c = [
    -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let q: number;
  let r: number;
  if (p < low) {
    q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p <= 1 - low) {
    q = p - 0.5;
    r = q * q;
    return (
      ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
      (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
    );
  }
  q = Math.sqrt(-2 * Math.log(1 - p));
  return (
    -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
    ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
  );
}

/** P(Z > z) of a standard normal (Abramowitz & Stegun 7.1.26 via erfc; absolute error < 1.5e-7). */
export function normalSurvival(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) *
    Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/** z of an upper mid-p, computed from whichever tail is small so that neither rounds to 0 or 1. */
function zFromTails(upperMidP: number, lowerMidP: number): number {
  const z = upperMidP < lowerMidP ? -normalQuantile(upperMidP) : normalQuantile(lowerMidP);
  return Math.max(-MAX_Z, Math.min(MAX_Z, z));
}

/** Signed z of k events where a Poisson mean of `mean` was expected. */
export function poissonZ(k: number, mean: number): number {
  if (!(mean > 0)) return k > 0 ? MAX_Z : 0;
  const pmf = Math.exp(k * Math.log(mean) - mean - logGamma(k + 1));
  // P(X ≥ k + 1) is the regularised lower incomplete gamma P(k + 1, mean).
  const { p: atLeastNext, q: atMostK } = gammaTails(k + 1, mean);
  return zFromTails(atLeastNext + pmf / 2, atMostK - pmf / 2);
}

/** Signed z of k successes in n trials of probability p. */
export function binomialZ(k: number, n: number, p: number): number {
  if (n <= 0) return 0;
  if (!(p > 0)) return k > 0 ? MAX_Z : 0;
  if (p >= 1) return k < n ? -MAX_Z : 0;
  if (n > 2_000) {
    // Normal approximation with continuity correction is accurate at this size.
    const sd = Math.sqrt(n * p * (1 - p));
    return Math.max(-MAX_Z, Math.min(MAX_Z, (k - n * p) / sd));
  }
  // Exact tails by summing the pmf outward from k (log space for the first term).
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  const logPmf = (i: number) => logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1) + i * logP + (n - i) * logQ;
  const atK = Math.exp(logPmf(k));
  let above = 0;
  let term = atK;
  for (let i = k + 1; i <= n; i += 1) {
    term *= ((n - i + 1) / i) * (p / (1 - p));
    above += term;
    if (term < above * 1e-17) break;
  }
  let below = 0;
  term = atK;
  for (let i = k - 1; i >= 0; i -= 1) {
    term *= ((i + 1) / (n - i)) * ((1 - p) / p);
    below += term;
    if (term < below * 1e-17) break;
  }
  return zFromTails(above + atK / 2, below + atK / 2);
}

/** Signed z of a mean of n samples against a baseline mean and per-sample standard deviation. */
export function meanZ(mean: number, n: number, baselineMean: number, sampleSigma: number): number {
  if (n <= 0 || !(sampleSigma > 0)) return 0;
  return Math.max(-MAX_Z, Math.min(MAX_Z, (mean - baselineMean) / (sampleSigma / Math.sqrt(n))));
}
