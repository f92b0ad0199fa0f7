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

/**
 * Where each part lives in a baseline's one Float64Array. A baseline is kept per agent (10,000 of
 * them), and a typed array costs about 200 bytes of objects besides its entries, so its six vectors
 * and matrices share one array: [μ | C | L | 1 / Lᵢᵢ | 1 / √Σᵢᵢ | observed]. The symmetric C and the
 * lower-triangular L are packed by rows (row i starts at i(i + 1)/2), half the entries of d × d.
 */
interface Layout {
  scatter: number;
  factor: number;
  inverseDiagonal: number;
  inverseSigma: number;
  observed: number;
  length: number;
}

function layoutOf(d: number): Layout {
  const triangle = (d * (d + 1)) / 2;
  const scatter = d;
  const factor = scatter + triangle;
  const inverseDiagonal = factor + triangle;
  const inverseSigma = inverseDiagonal + d;
  const observed = inverseSigma + d;
  return { scatter, factor, inverseDiagonal, inverseSigma, observed, length: observed + d };
}

/** Where row i of a packed lower triangle starts. */
function rowOf(i: number): number {
  return (i * (i + 1)) >> 1;
}

export class Baseline {
  readonly d: number;
  private weight = 0;
  private learned = 0;
  /**
   * Everything learned, at the offsets below (Layout): μ from 0; C (kept in its lower triangle: it
   * is symmetric, δ and x − μ_new being parallel); Σ's Cholesky factor L, valid while `factored`
   * and recomputed in place after learning; 1 / Lᵢᵢ; 1 / √Σᵢᵢ; and whether each feature has been
   * observed in a learned window (1, else 0: before that its μ is undefined).
   */
  private readonly state: Float64Array;
  private readonly scatterAt: number;
  private readonly factorAt: number;
  private readonly inverseDiagonalAt: number;
  private readonly inverseSigmaAt: number;
  private readonly observedAt: number;
  private factored = false;
  private readonly alpha: number;
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
    const layout = layoutOf(d);
    this.state = new Float64Array(layout.length);
    this.scatterAt = layout.scatter;
    this.factorAt = layout.factor;
    this.inverseDiagonalAt = layout.inverseDiagonal;
    this.inverseSigmaAt = layout.inverseSigma;
    this.observedAt = layout.observed;
    this.delta = scratchOf(d, 0);
    this.solved = scratchOf(d, 1);
    this.alpha = Number.isFinite(options.memoryWindows) ? 1 - 1 / options.memoryWindows : 1;
  }

  /** Windows learned so far. */
  get windows(): number {
    return this.learned;
  }

  /** μ (a view of the baseline's state: it changes as the baseline learns). */
  get mean(): Float64Array {
    return this.state.subarray(0, this.d);
  }

  /** Learns one normal window. Missing (NaN) features are taken at the current mean; a first observation sets it. */
  learn(x: Float64Array): void {
    const { d, state: s, scatterAt, observedAt, delta, solved, alpha } = this;
    this.weight = alpha * this.weight + 1;
    const inverseWeight = 1 / this.weight;
    for (let i = 0; i < d; i += 1) {
      const value = x[i]!;
      if (!Number.isNaN(value) && s[observedAt + i] === 0) {
        s[observedAt + i] = 1;
        s[i] = value;
      }
      const xi = Number.isNaN(value) ? s[i]! : value;
      const step = xi - s[i]!;
      delta[i] = step;
      s[i] = s[i]! + step * inverseWeight;
      solved[i] = xi - s[i]!; // x − μ_new
    }
    for (let i = 0; i < d; i += 1) {
      const di = delta[i]!;
      const row = scatterAt + rowOf(i);
      for (let j = 0; j <= i; j += 1) s[row + j] = alpha * s[row + j]! + di * solved[j]!;
    }
    this.learned += 1;
    this.factored = false;
  }

  /** The shrunk, floored covariance Σ (row-major d×d). */
  covariance(): Float64Array {
    const { d, state: s, scatterAt, weight } = this;
    const floor = this.options.sigmaFloor;
    const offDiagonal = weight > 0 ? (1 - this.options.shrinkage / (weight + this.options.shrinkage)) / weight : 0;
    const diagonal = weight > 0 ? 1 / weight : 0;
    const out = new Float64Array(d * d);
    for (let i = 0; i < d; i += 1) {
      const row = scatterAt + rowOf(i);
      for (let j = 0; j < i; j += 1) {
        out[i * d + j] = s[row + j]! * offDiagonal;
        out[j * d + i] = out[i * d + j]!;
      }
      out[i * d + i] = Math.max(s[row + i]! * diagonal, floor[i]! * floor[i]!);
    }
    return out;
  }

  /**
   * Σ's Cholesky factor L (lower triangle) and 1 / Lᵢᵢ, with Σ's entries computed from the scatter
   * as they are needed (one pass, for every window learned), and 1 / √Σᵢᵢ. false when Σ is not
   * positive definite.
   */
  private factorize(): boolean {
    const { d, state: s, scatterAt, factorAt, inverseDiagonalAt, inverseSigmaAt, weight } = this;
    const floor = this.options.sigmaFloor;
    const offDiagonal = weight > 0 ? (1 - this.options.shrinkage / (weight + this.options.shrinkage)) / weight : 0;
    const diagonal = weight > 0 ? 1 / weight : 0;
    for (let i = 0; i < d; i += 1) {
      const triangleRow = rowOf(i);
      const scatterRow = scatterAt + triangleRow;
      const row = factorAt + triangleRow;
      for (let j = 0; j < i; j += 1) {
        const other = factorAt + rowOf(j);
        let sum = s[scatterRow + j]! * offDiagonal;
        for (let k = 0; k < j; k += 1) sum -= s[row + k]! * s[other + k]!;
        s[row + j] = sum * s[inverseDiagonalAt + j]!;
      }
      const variance = Math.max(s[scatterRow + i]! * diagonal, floor[i]! * floor[i]!);
      s[inverseSigmaAt + i] = 1 / Math.sqrt(variance);
      let sum = variance;
      for (let k = 0; k < i; k += 1) sum -= s[row + k]! * s[row + k]!;
      if (!(sum > 0)) return false;
      const root = Math.sqrt(sum);
      s[row + i] = root;
      s[inverseDiagonalAt + i] = 1 / root;
    }
    return true;
  }

  /**
   * D² of `x` against this baseline, with each feature's additive contribution. `keep(i)` false
   * clears feature i's deviation (it moved the harmless way, or too little to matter).
   */
  score(x: Float64Array, keep?: (i: number) => boolean): ScoreParts {
    const { d, state: s, observedAt, inverseSigmaAt, delta, solved } = this;
    if (!this.factored) {
      if (!this.factorize()) throw new Error('baseline covariance is not positive definite (a sigma floor of 0?)');
      this.factored = true;
    }
    let largestMarginal = 0;
    for (let i = 0; i < d; i += 1) {
      delta[i] = Number.isNaN(x[i]!) || s[observedAt + i] === 0 || (keep !== undefined && !keep(i)) ? 0 : x[i]! - s[i]!;
      largestMarginal = Math.max(largestMarginal, Math.abs(delta[i]!) * s[inverseSigmaAt + i]!);
    }
    this.solve(delta, solved);
    // A plain array: a Float64Array of more than 8 entries gets an off-heap store, ~1 us to allocate.
    const contributions = new Array<number>(d);
    let d2 = 0;
    for (let i = 0; i < d; i += 1) {
      contributions[i] = delta[i]! * solved[i]!;
      d2 += contributions[i]!;
    }
    return { d2, contributions, largestMarginal };
  }

  /**
   * Solves Σ y = b into `out` as L z = b (forward) then Lᵀ y = z (backward), with the factor: cheaper
   * and more stable than forming Σ⁻¹, and with 1 / Lᵢᵢ kept, multiplications instead of divisions.
   */
  private solve(b: Float64Array, out: Float64Array): void {
    const { d, state: s, factorAt, inverseDiagonalAt } = this;
    for (let i = 0; i < d; i += 1) {
      const row = factorAt + rowOf(i);
      let sum = b[i]!;
      for (let k = 0; k < i; k += 1) sum -= s[row + k]! * out[k]!;
      out[i] = sum * s[inverseDiagonalAt + i]!;
    }
    for (let i = d - 1; i >= 0; i -= 1) {
      let sum = out[i]!;
      for (let k = i + 1; k < d; k += 1) sum -= s[factorAt + rowOf(k) + i]! * out[k]!;
      out[i] = sum * s[inverseDiagonalAt + i]!;
    }
  }

  /** Standard deviation per feature (of the shrunk, floored Σ). */
  sigma(): Float64Array {
    const cov = this.covariance();
    return Float64Array.from({ length: this.d }, (_, i) => Math.sqrt(cov[i * this.d + i]!));
  }
}
