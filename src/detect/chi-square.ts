// The χ² distribution with k degrees of freedom: CDF through the regularised lower incomplete gamma
// function P(k/2, x/2) (series for x < a+1, continued fraction otherwise; Numerical Recipes §6.2),
// and the quantile by bisection on the CDF. Used for the alert threshold and the p-value of a score.

/** Lanczos coefficients (g = 7, n = 9). */
const LANCZOS = new Float64Array([
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
]);

export function logGamma(z: number): number {
  // Lanczos approximation, accurate to ~1e-15 for z > 0.
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  const x = z - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < 9; i += 1) sum += LANCZOS[i]! / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * Regularised incomplete gamma: P(a, x) and Q(a, x) = 1 − P. The series gives P and the continued
 * fraction gives Q; each tail is computed directly where it is the small one, so a p-value of
 * 1e-20 is not lost to 1 − P rounding.
 */
export function gammaTails(a: number, x: number, logGammaA: number = logGamma(a)): { p: number; q: number } {
  if (x <= 0) return { p: 0, q: 1 };
  const lnPrefix = -x + a * Math.log(x) - logGammaA;
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000; n += 1) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    const p = sum * Math.exp(lnPrefix);
    return { p, q: 1 - p };
  }
  // Lentz's continued fraction for Q(a, x).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i += 1) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  const q = Math.exp(lnPrefix) * h;
  return { p: 1 - q, q };
}

export function chiSquareCdf(x: number, k: number): number {
  return gammaTails(k / 2, x / 2).p;
}

/** P(X ≥ x): the p-value of a squared Mahalanobis distance x with k features (`logGammaHalfK`: ln Γ(k/2), if known). */
export function chiSquareSurvival(x: number, k: number, logGammaHalfK?: number): number {
  return Math.min(1, Math.max(0, gammaTails(k / 2, x / 2, logGammaHalfK ?? logGamma(k / 2)).q));
}

/** The p-quantile of χ²(k). */
export function chiSquareQuantile(p: number, k: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`chiSquareQuantile: p must be in (0, 1), got ${p}`);
  let lo = 0;
  let hi = Math.max(1, k);
  while (chiSquareCdf(hi, k) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i += 1) {
    const mid = (lo + hi) / 2;
    if (chiSquareCdf(mid, k) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
