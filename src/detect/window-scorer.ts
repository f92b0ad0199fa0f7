// Scores one vector against a learned baseline: D² = (x − μ)ᵀ Σ⁻¹ (x − μ), its per-feature
// contributions, and whether it crosses the fire and stay thresholds. The one scoring path of
// agentwatch: the live detector scores evidence vectors with it, `agentwatch score` raw feature rows.
// What is learned, and when, is the IncidentTracker's decision; this class only scores and learns.
//
// Warm-up: until `warmupWindows` windows were learned, a window is not scored (score null).

import { Baseline, type BaselineOptions } from './baseline.js';
import { normalQuantile } from './evidence.js';
import { ScoreDistribution, Threshold, type ThresholdOptions } from './threshold.js';

export interface ScorerOptions {
  warmupWindows: number;
  baseline: BaselineOptions;
  threshold: ThresholdOptions;
  /** Features whose harmless direction is cleared before scoring (their null distribution is one-sided); default none. */
  oneSided?: number;
}

export interface WindowScore {
  /** D², or null while warming up. */
  score: number | null;
  threshold: number;
  /** The lower threshold: at or below it a window counts as recovered and may be learned. */
  stayThreshold: number;
  anomaly: boolean;
  /** So far above the threshold that this window alone fires an alert. */
  severe: boolean;
  /**
   * Above the stay threshold, or one feature alone beyond its own stay limit: not normal enough to
   * learn from or to end an incident.
   */
  elevated: boolean;
  /** p-value of the score under the baseline (null while warming up). */
  pValue: number | null;
  /** Per-feature contributions to D² (sum to the score); null while warming up. */
  contributions: number[] | null;
}

/** The null distribution of D² per (two-sided, one-sided) features, one for every scorer (they are immutable). */
const distributions = new Map<string, ScoreDistribution>();
function distributionOf(twoSided: number, oneSided: number): ScoreDistribution {
  const key = `${twoSided} ${oneSided}`;
  let distribution = distributions.get(key);
  if (distribution === undefined) {
    distribution = new ScoreDistribution(twoSided, oneSided);
    distributions.set(key, distribution);
  }
  return distribution;
}

export class WindowScorer {
  readonly baseline: Baseline;
  private readonly threshold: Threshold;
  /**
   * The stay limit of one feature on its own, |x − μ|ᵢ / σᵢ: the normal quantile at the stay
   * probability, Bonferroni-corrected for d features (3.0 at d = 8, stay 0.99). D² spreads one
   * feature's change over d degrees of freedom, so a rate at z = −4 can sit below the stay threshold
   * of D² and be learned window after window: the baseline would walk into a change that is held.
   */
  private readonly marginalStay: number;

  constructor(
    readonly d: number,
    private readonly options: ScorerOptions,
  ) {
    this.baseline = new Baseline(d, options.baseline);
    const oneSided = options.oneSided ?? 0;
    this.threshold = new Threshold(distributionOf(d - oneSided, oneSided), options.threshold);
    this.marginalStay = normalQuantile(1 - (1 - options.threshold.stayP) / d);
  }

  get warm(): boolean {
    return this.baseline.windows >= this.options.warmupWindows;
  }

  /**
   * Scores `x` (NaN = not observed in this window). `keep(i)`, when given, says whether feature i's
   * deviation counts (false: the feature moved the harmless way, or too little to matter).
   */
  score(x: Float64Array, keep?: (i: number) => boolean): WindowScore {
    const threshold = this.threshold.value();
    const stayThreshold = this.threshold.stayValue();
    if (!this.warm) {
      return {
        score: null,
        threshold,
        stayThreshold,
        anomaly: false,
        severe: false,
        elevated: false,
        pValue: null,
        contributions: null,
      };
    }
    const { d2, contributions, largestMarginal } = this.baseline.score(x, keep);
    return {
      score: d2,
      threshold,
      stayThreshold,
      anomaly: d2 > threshold,
      severe: d2 > this.threshold.atOnceValue(),
      elevated: d2 > stayThreshold || largestMarginal > this.marginalStay,
      pValue: this.threshold.pValue(d2),
      contributions,
    };
  }

  /** Learns `x` as normal; `score` is its score when it had one (empirical thresholds keep it). */
  learn(x: Float64Array, score: number | null = null): void {
    this.baseline.learn(x);
    if (score !== null) this.threshold.observeNormal(score);
  }

  /** Scores `x` and learns it at once when it is not elevated and `mayLearn` (no learning delay): for tests and benchmarks of the maths. */
  assess(x: Float64Array, mayLearn: boolean): WindowScore {
    const result = this.score(x);
    if (mayLearn && !result.elevated) this.learn(x, result.score);
    return result;
  }
}
