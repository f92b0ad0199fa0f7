// A mergeable quantile sketch with bounded relative error: values are counted in logarithmic buckets
// of ratio γ (bucket k holds values in [γᵏ⁻¹, γᵏ) after shifting by one), so a quantile is within
// (γ − 1) of the true value, and the bucket count grows only with the log of the range (≈ 1,000 for
// 1 to 10⁹ at γ = 1.02), never with the number of values.

const GAMMA = 1.02;
const LOG_GAMMA = Math.log(GAMMA);

export class LogHistogram {
  private readonly buckets = new Map<number, number>();
  private total = 0;

  get count(): number {
    return this.total;
  }

  add(value: number): void {
    if (!(value >= 0)) return;
    const bucket = Math.ceil(Math.log1p(value) / LOG_GAMMA);
    this.buckets.set(bucket, (this.buckets.get(bucket) ?? 0) + 1);
    this.total += 1;
  }

  merge(other: LogHistogram): void {
    for (const [bucket, n] of other.buckets) this.buckets.set(bucket, (this.buckets.get(bucket) ?? 0) + n);
    this.total += other.total;
  }

  /** How many values lie above `value` (to the histogram's resolution). */
  countAbove(value: number): number {
    const limit = Math.ceil(Math.log1p(Math.max(0, value)) / LOG_GAMMA);
    let n = 0;
    for (const [bucket, count] of this.buckets) if (bucket > limit) n += count;
    return n;
  }

  /** Count, Σ ln(1 + v) and Σ ln(1 + v)² of the values at or below `value` (bucket middles). */
  momentsUpTo(value: number): { count: number; sumLog: number; sumLogSquares: number } {
    const limit = Math.ceil(Math.log1p(Math.max(0, value)) / LOG_GAMMA);
    let count = 0;
    let sumLog = 0;
    let sumLogSquares = 0;
    for (const [bucket, n] of this.buckets) {
      if (bucket > limit) continue;
      const log = (bucket - 0.5) * LOG_GAMMA;
      count += n;
      sumLog += n * log;
      sumLogSquares += n * log * log;
    }
    return { count, sumLog, sumLogSquares };
  }

  /** The q-quantile (0..1), or NaN when empty. */
  quantile(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const key of keys) {
      seen += this.buckets.get(key)!;
      // The bucket's geometric middle, shifted back.
      if (seen >= rank) return Math.exp((key - 0.5) * LOG_GAMMA) - 1;
    }
    return Math.exp((keys[keys.length - 1]! - 0.5) * LOG_GAMMA) - 1;
  }
}
