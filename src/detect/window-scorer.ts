// Scores one window feature vector against a baseline and decides whether it is anomalous. The one
// scoring path of agentwatch: the live detector and `agentwatch score` both go through it.
//
// Warm-up: the first `warmupWindows` windows only teach the baseline and are never flagged, unless
// a warm prior (the fleet's baseline) is given, which scores the agent until its own is warm.
// Learning: only windows that are not anomalous, and not while the caller says an incident is
// ongoing, update the baseline, so an incident is not absorbed into "normal".

import { Baseline, type BaselineOptions } from './baseline.js';
import { Threshold, type ThresholdOptions } from './threshold.js';

export interface ScorerOptions {
  warmupWindows: number;
  baseline: BaselineOptions;
  threshold: ThresholdOptions;
}

export interface WindowScore {
  /** D², or null while warming up with no warm prior. */
  score: number | null;
  threshold: number;
  anomaly: boolean;
  /** χ² p-value of the score (null while warming up). */
  pValue: number | null;
  /** Per-feature contributions to D² (sum to the score); null while warming up. */
  contributions: number[] | null;
  /** The baseline's mean at scoring time, per feature. */
  baselineMean: number[];
  /** Which baseline scored it. */
  against: 'own' | 'prior' | 'none';
}

export class WindowScorer {
  readonly baseline: Baseline;
  private readonly threshold: Threshold;

  constructor(readonly d: number, private readonly options: ScorerOptions) {
    this.baseline = new Baseline(d, options.baseline);
    this.threshold = new Threshold(d, options.threshold);
  }

  get warm(): boolean {
    return this.baseline.windows >= this.options.warmupWindows;
  }

  /**
   * Scores `x` (NaN = feature not observed in this window), then learns it when it was normal and
   * `mayLearn`. `prior` scores the window while this scorer is still warming up.
   */
  assess(x: Float64Array, mayLearn: boolean, prior?: WindowScorer): WindowScore {
    const scorer = this.warm ? this : prior?.warm === true ? prior : undefined;
    if (scorer === undefined) {
      if (mayLearn) this.baseline.learn(x);
      return { score: null, threshold: this.threshold.value(), anomaly: false, pValue: null, contributions: null, baselineMean: this.baseline.meanCopy(), against: 'none' };
    }
    const { d2, contributions } = scorer.baseline.score(x);
    const threshold = scorer.threshold.value();
    const anomaly = d2 > threshold;
    const result: WindowScore = {
      score: d2, threshold, anomaly, pValue: scorer.threshold.pValue(d2), contributions,
      baselineMean: scorer.baseline.meanCopy(), against: scorer === this ? 'own' : 'prior',
    };
    if (!anomaly && mayLearn) {
      this.baseline.learn(x);
      if (scorer === this) this.threshold.observeNormal(d2);
    }
    return result;
  }
}
