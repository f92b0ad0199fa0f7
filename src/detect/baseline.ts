// An agent's learned normal behaviour: an exponentially forgetting mean μ and covariance Σ of its
// window feature vectors, fed only with windows that did not alert.
//
// Learning (weighted Welford, West 1979), with forgetting factor α = 1 − 1/memory:
//   W ← αW + 1;  δ = x − μ;  μ ← μ + δ/W;  C ← αC + δ (x − μ)ᵀ;  S = C / W
// Shrinkage toward the diagonal keeps Σ invertible from the first windows on, and a per-feature
// floor on the variance keeps a constant feature (e.g. a timeout rate that has always been 0) from
// making Σ singular or turning a tiny change into an infinite distance:
//   Σᵢⱼ = (1 − λ) Sᵢⱼ (i ≠ j),  Σᵢᵢ = max(Sᵢᵢ, floorᵢ²),  λ = k / (W + k)
// With λ > 0 this is positive definite whenever every Σᵢᵢ > 0 (a PSD matrix plus a positive diagonal).
//
// Missing features (NaN: nothing in the window to measure, e.g. no answer yet) are learned at the
// current mean, so they move neither μ nor C. A feature's first observation sets its mean, as if
// the windows before had shown that value; until then it has no baseline and is not scored.

import { choleskySolve } from './cholesky.js';

export interface BaselineOptions {
  /** Windows of memory: older windows weigh e⁻¹ after about this many (α = 1 − 1/memory); Infinity never forgets. */
  memoryWindows: number;
  /** Smallest standard deviation per feature. */
  sigmaFloor: Float64Array;
  /** Pseudo-count k of the shrinkage toward the diagonal. */
  shrinkage: number;
}

export interface ScoreParts {
  /** D² = (x − μ)ᵀ Σ⁻¹ (x − μ). */
  d2: number;
  /** cᵢ = (x − μ)ᵢ (Σ⁻¹(x − μ))ᵢ; they sum to D². Missing features contribute 0. */
  contributions: number[];
  /** The largest |x − μ|ᵢ / √Σᵢᵢ over the features that count: the worst feature on its own. */
  largestMarginal: number;
}

/**
 * Scratch vectors of length d, shared by every Baseline of that d: learn and score use them within
 * one synchronous call only, so 10,000 agents need two of them, not 20,000 (about 4 MB of heap).
 */
const scratch = new Map<number, [Float64Array, Float64Array]>();
function scratchOf(d: number, which: 0 | 1): Float64Array {
  let pair = scratch.get(d);
  if (pair === undefined) {
    pair = [new Float64Array(d), new Float64Array(d)];
    scratch.set(d, pair);
  }
  return pair[which];
}

export class Baseline {
  readonly d: number;
  private weight = 0;
  private learned = 0;
  private readonly mu: Float64Array;
  /** C, kept in its lower triangle only (it is symmetric: δ and x − μ_new are parallel). */
  private readonly scatter: Float64Array;
  /** Σ's Cholesky factor (lower triangle), valid while `factored`; recomputed in place after learning. */
  private readonly factor: Float64Array;
  /** 1 / the factor's diagonal. */
  private readonly inverseDiagonal: Float64Array;
  /** 1 / √Σᵢᵢ, valid while `factored`. */
  private readonly inverseSigma: Float64Array;
  private factored = false;
  private readonly alpha: number;
  /** Whether each feature has been observed in a learned window (before that its μ is undefined). */
  private readonly observed: Uint8Array;
  // Scratch buffers, shared per d (scratchOf): scoring allocates only its result.
  private readonly delta: Float64Array;
  private readonly solved: Float64Array;

  constructor(
    d: number,
    private readonly options: BaselineOptions,
  ) {
    if (options.sigmaFloor.length !== d)
      throw new RangeError(`sigmaFloor has ${options.sigmaFloor.length} entries for ${d} features`);
    this.d = d;
    this.mu = new Float64Array(d);
    this.scatter = new Float64Array(d * d);
    this.delta = scratchOf(d, 0);
    this.solved = scratchOf(d, 1);
    this.factor = new Float64Array(d * d);
    this.inverseDiagonal = new Float64Array(d);
    this.inverseSigma = new Float64Array(d);
    this.alpha = Number.isFinite(options.memoryWindows) ? 1 - 1 / options.memoryWindows : 1;
    this.observed = new Uint8Array(d);
  }

  /** Windows learned so far. */
  get windows(): number {
    return this.learned;
  }

  get mean(): Float64Array {
    return this.mu;
  }

  /** Learns one normal window. Missing (NaN) features are taken at the current mean; a first observation sets it. */
  learn(x: Float64Array): void {
    const { d, mu, scatter, delta, solved, alpha, observed } = this;
    this.weight = alpha * this.weight + 1;
    const inverseWeight = 1 / this.weight;
    for (let i = 0; i < d; i += 1) {
      const value = x[i]!;
      if (!Number.isNaN(value) && observed[i] === 0) {
        observed[i] = 1;
        mu[i] = value;
      }
      const xi = Number.isNaN(value) ? mu[i]! : value;
      const step = xi - mu[i]!;
      delta[i] = step;
      mu[i] = mu[i]! + step * inverseWeight;
      solved[i] = xi - mu[i]!; // x − μ_new
    }
    for (let i = 0; i < d; i += 1) {
      const di = delta[i]!;
      const row = i * d;
      for (let j = 0; j <= i; j += 1) scatter[row + j] = alpha * scatter[row + j]! + di * solved[j]!;
    }
    this.learned += 1;
    this.factored = false;
  }

  /** The shrunk, floored covariance Σ (row-major d×d). */
  covariance(): Float64Array {
    const out = new Float64Array(this.d * this.d);
    this.lowerCovariance(out);
    const d = this.d;
    for (let i = 0; i < d; i += 1) for (let j = i + 1; j < d; j += 1) out[i * d + j] = out[j * d + i]!;
    return out;
  }

  /** Σ's lower triangle (with the diagonal) into `out`: all that the Cholesky factorisation reads. */
  private lowerCovariance(out: Float64Array): void {
    const { d, scatter, weight } = this;
    const floor = this.options.sigmaFloor;
    const offDiagonal = weight > 0 ? (1 - this.options.shrinkage / (weight + this.options.shrinkage)) / weight : 0;
    const diagonal = weight > 0 ? 1 / weight : 0;
    for (let i = 0; i < d; i += 1) {
      for (let j = 0; j < i; j += 1) out[i * d + j] = scatter[i * d + j]! * offDiagonal;
      out[i * d + i] = Math.max(scatter[i * d + i]! * diagonal, floor[i]! * floor[i]!);
    }
  }

  /**
   * Σ's Cholesky factor L (lower triangle) and 1 / Lᵢᵢ, with Σ's entries computed from the scatter
   * as they are needed (cholesky.ts, fused with lowerCovariance: one pass, for every window learned).
   * false when Σ is not positive definite.
   */
  private factorize(): boolean {
    const { d, scatter, weight, factor: l, inverseDiagonal: inverse } = this;
    const floor = this.options.sigmaFloor;
    const offDiagonal = weight > 0 ? (1 - this.options.shrinkage / (weight + this.options.shrinkage)) / weight : 0;
    const diagonal = weight > 0 ? 1 / weight : 0;
    for (let i = 0; i < d; i += 1) {
      const row = i * d;
      for (let j = 0; j < i; j += 1) {
        const other = j * d;
        let sum = scatter[row + j]! * offDiagonal;
        for (let k = 0; k < j; k += 1) sum -= l[row + k]! * l[other + k]!;
        l[row + j] = sum * inverse[j]!;
      }
      const variance = Math.max(scatter[row + i]! * diagonal, floor[i]! * floor[i]!);
      this.inverseSigma[i] = 1 / Math.sqrt(variance);
      let sum = variance;
      for (let k = 0; k < i; k += 1) sum -= l[row + k]! * l[row + k]!;
      if (!(sum > 0)) return false;
      const root = Math.sqrt(sum);
      l[row + i] = root;
      inverse[i] = 1 / root;
    }
    return true;
  }

  /**
   * D² of `x` against this baseline, with each feature's additive contribution. `keep(i)` false
   * clears feature i's deviation (it moved the harmless way, or too little to matter).
   */
  score(x: Float64Array, keep?: (i: number) => boolean): ScoreParts {
    const { d, mu, delta, solved } = this;
    if (!this.factored) {
      if (!this.factorize()) throw new Error('baseline covariance is not positive definite (a sigma floor of 0?)');
      this.factored = true;
    }
    let largestMarginal = 0;
    for (let i = 0; i < d; i += 1) {
      delta[i] = Number.isNaN(x[i]!) || this.observed[i] === 0 || (keep !== undefined && !keep(i)) ? 0 : x[i]! - mu[i]!;
      largestMarginal = Math.max(largestMarginal, Math.abs(delta[i]!) * this.inverseSigma[i]!);
    }
    choleskySolve(this.factor, d, delta, solved, this.inverseDiagonal);
    // A plain array: a Float64Array of more than 8 entries gets an off-heap store, ~1 us to allocate.
    const contributions = new Array<number>(d);
    let d2 = 0;
    for (let i = 0; i < d; i += 1) {
      contributions[i] = delta[i]! * solved[i]!;
      d2 += contributions[i]!;
    }
    return { d2, contributions, largestMarginal };
  }

  /** Standard deviation per feature (of the shrunk, floored Σ). */
  sigma(): Float64Array {
    const cov = this.covariance();
    return Float64Array.from({ length: this.d }, (_, i) => Math.sqrt(cov[i * this.d + i]!));
  }
}
