// When a score is anomalous. D² of a window from its baseline follows χ² with d degrees of freedom
// for Gaussian windows; when only one direction of some features counts (the others are set to 0
// when they move the harmless way), it follows the chi-bar-squared mixture instead (Kudô 1963):
//   P(D² > c) = Σₖ C(u, k) 2⁻ᵘ · P(χ²_{t+k} > c)
// for u one-sided and t two-sided features (independent, standardised). The threshold is its
// quantile at probability p; `stay` is a lower quantile that an incident must fall below to count
// as recovered. In empirical mode, once enough normal scores are known, the p-quantile of the
// agent's own recent normal scores replaces it. Severity comes from the score's p-value.

import { chiSquareSurvival, logGamma } from './chi-square.js';

export type ThresholdMode = 'chi2' | 'empirical';
export type Severity = 'minor' | 'major' | 'critical';

export interface ThresholdOptions {
  p: number;
  /** Probability of the lower threshold an incident must fall below to recover. */
  stayP: number;
  /** Probability of the upper threshold above which one window fires at once. */
  atOnceP: number;
  mode: ThresholdMode;
  /** Normal scores kept for the empirical quantile. */
  empiricalWindow: number;
  /** Normal scores needed before the empirical quantile replaces the χ² one. */
  empiricalMinimum: number;
}

/** The null distribution of D²: `twoSided` features count both ways, `oneSided` one way only. */
export class ScoreDistribution {
  private readonly weights: number[];
  /** ln Γ(dof / 2) of each term's degrees of freedom: a p-value per scored window need not recompute it. */
  private readonly logGammas: number[];

  constructor(
    readonly twoSided: number,
    readonly oneSided: number,
  ) {
    // C(u, k) / 2^u
    this.weights = [];
    let c = 1;
    for (let k = 0; k <= oneSided; k += 1) {
      this.weights.push(c / 2 ** oneSided);
      c = (c * (oneSided - k)) / (k + 1);
    }
    this.logGammas = this.weights.map((_, k) => logGamma((twoSided + k) / 2));
  }

  survival(score: number): number {
    if (!(score > 0)) return 1;
    let p = 0;
    for (let k = 0; k < this.weights.length; k += 1) {
      const dof = this.twoSided + k;
      if (dof > 0) p += this.weights[k]! * chiSquareSurvival(score, dof, this.logGammas[k]);
    }
    return p;
  }

  /** The score exceeded with probability 1 − p. */
  quantile(p: number): number {
    let low = 0;
    let high = 1;
    while (this.survival(high) > 1 - p) high *= 2;
    for (let i = 0; i < 100; i += 1) {
      const mid = (low + high) / 2;
      if (this.survival(mid) > 1 - p) low = mid;
      else high = mid;
    }
    return high;
  }
}

/** The recent scores of a χ² threshold, which keeps none: one empty array for every agent's. */
const NO_SCORES = new Float64Array(0);

export class Threshold {
  private readonly fire: number;
  private readonly stay: number;
  private readonly atOnce: number;
  private readonly recent: Float64Array;
  private filled = 0;
  private next = 0;

  constructor(
    private readonly distribution: ScoreDistribution,
    private readonly options: ThresholdOptions,
  ) {
    this.fire = distribution.quantile(options.p);
    this.stay = distribution.quantile(options.stayP);
    this.atOnce = distribution.quantile(options.atOnceP);
    this.recent = options.mode === 'empirical' ? new Float64Array(options.empiricalWindow) : NO_SCORES;
  }

  private empirical(): boolean {
    return this.options.mode === 'empirical' && this.filled >= this.options.empiricalMinimum;
  }

  private quantileOfRecent(p: number): number {
    const sorted = this.recent.slice(0, this.filled).sort();
    return sorted[Math.min(this.filled - 1, Math.floor(p * this.filled))]!;
  }

  /** Above it a window is anomalous. */
  value(): number {
    return this.empirical() ? this.quantileOfRecent(this.options.p) : this.fire;
  }

  /** Above it one window is enough to fire (the χ² or chi-bar quantile, also in empirical mode). */
  atOnceValue(): number {
    return Math.max(this.atOnce, this.value());
  }

  /** At or below it a window of an incident counts as recovered, and a window may be learned. */
  stayValue(): number {
    return this.empirical() ? Math.min(this.value(), this.quantileOfRecent(this.options.stayP)) : this.stay;
  }

  /** Remembers the score of a window that was learned as normal (empirical mode). */
  observeNormal(score: number): void {
    if (this.recent.length === 0) return;
    this.recent[this.next] = score;
    this.next = (this.next + 1) % this.recent.length;
    this.filled = Math.min(this.filled + 1, this.recent.length);
  }

  pValue(score: number): number {
    return this.distribution.survival(score);
  }
}

export function severityOf(pValue: number): Severity {
  if (pValue < 1e-6) return 'critical';
  if (pValue < 1e-4) return 'major';
  return 'minor';
}
