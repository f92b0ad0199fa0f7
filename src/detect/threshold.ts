// When a score is anomalous: above the χ² quantile of the feature count at probability p (the
// distribution of D² for normal, Gaussian windows), or, in empirical mode and once enough normal
// scores are known, above the p-quantile of the agent's own recent normal scores. Severity comes
// from the score's χ² p-value.

import { chiSquareQuantile, chiSquareSurvival } from './chi-square.js';

export type ThresholdMode = 'chi2' | 'empirical';
export type Severity = 'minor' | 'major' | 'critical';

export interface ThresholdOptions {
  p: number;
  mode: ThresholdMode;
  /** Normal scores kept for the empirical quantile. */
  empiricalWindow: number;
  /** Normal scores needed before the empirical quantile replaces the χ² one. */
  empiricalMinimum: number;
}

export class Threshold {
  private readonly chi2: number;
  private readonly recent: Float64Array;
  private filled = 0;
  private next = 0;

  constructor(private readonly d: number, private readonly options: ThresholdOptions) {
    this.chi2 = chiSquareQuantile(options.p, d);
    this.recent = new Float64Array(options.mode === 'empirical' ? options.empiricalWindow : 0);
  }

  value(): number {
    if (this.options.mode === 'chi2' || this.filled < this.options.empiricalMinimum) return this.chi2;
    const sorted = this.recent.slice(0, this.filled).sort();
    return sorted[Math.min(this.filled - 1, Math.floor(this.options.p * this.filled))]!;
  }

  /** Remembers the score of a window that was not anomalous (empirical mode). */
  observeNormal(score: number): void {
    if (this.recent.length === 0) return;
    this.recent[this.next] = score;
    this.next = (this.next + 1) % this.recent.length;
    this.filled = Math.min(this.filled + 1, this.recent.length);
  }

  pValue(score: number): number {
    return chiSquareSurvival(score, this.d);
  }
}

export function severityOf(pValue: number): Severity {
  if (pValue < 1e-6) return 'critical';
  if (pValue < 1e-4) return 'major';
  return 'minor';
}
