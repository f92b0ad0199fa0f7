// A mergeable quantile sketch with bounded relative error: values are counted in logarithmic buckets
// of ratio γ (bucket k holds values in [γᵏ⁻¹, γᵏ) after shifting by one), so a quantile is within
// (γ − 1) of the true value, and the bucket count grows only with the log of the range (≈ 1,000 for
// 1 to 10⁹ at γ = 1.02), never with the number of values.

const GAMMA = 1.02;
const LOG_GAMMA = Math.log(GAMMA);

export class LogHistogram {
  /**
   * The non-empty buckets in ascending order, as [bucket, count, bucket, count, …]. Both are small
   * integers, so V8 keeps them unboxed in one array: a window's histogram holds a few buckets (a Map
   * per histogram cost ~4× the memory), and a closed window's are kept packed (pack()).
   */
  private cells: number[] = [];
  private total = 0;

  get count(): number {
    return this.total;
  }

  add(value: number): void {
    if (value >= 0) this.addLog(Math.log1p(value));
  }

  /** Adds a value v ≥ 0 given as ln(1 + v). */
  protected addLog(log: number): void {
    const bucket = bucketOfLog(log);
    const cells = this.cells;
    const at = this.indexOf(bucket);
    if (at < cells.length && cells[at] === bucket) cells[at + 1] = cells[at + 1]! + 1;
    // A new bucket, in place: with buckets 2 % wide most values of a window open one, and a copy of
    // the array for each was a sixth of the detector's time (pack() leaves the room this reserves).
    else if (cells.length === 0)
      this.cells = [bucket, 1]; // a window of one value stays that small
    else cells.splice(at, 0, bucket, 1);
    this.total += 1;
  }

  /**
   * Appends the histogram to `out` as its count, its number of cells and a double per cell
   * (count · 2¹⁶ + bucket: a bucket is below 2¹⁶, see PACKED_BUCKETS): a closed window's histograms
   * are kept this way (SealedWindow), at 8 bytes a cell and no object of their own.
   */
  pack(out: number[]): void {
    const cells = this.cells;
    out.push(this.total, cells.length >> 1);
    for (let i = 0; i < cells.length; i += 2) out.push(cells[i + 1]! * PACKED_BUCKETS + cells[i]!);
  }

  /** Merges the histogram that pack() wrote at `from[at]`; returns where what follows it starts. */
  mergePacked(from: readonly number[], at: number): number {
    const total = from[at]!;
    const end = at + 2 + from[at + 1]!;
    if (total === 0) return end;
    const a = this.cells;
    const merged: number[] = [];
    let i = 0;
    let j = at + 2;
    while (i < a.length || j < end) {
      const packed = j < end ? from[j]! : 0;
      const bucket = (packed % PACKED_BUCKETS) | 0;
      const count = asSmallInteger((packed - bucket) / PACKED_BUCKETS);
      if (j >= end || (i < a.length && a[i]! < bucket)) {
        merged.push(a[i]!, a[i + 1]!);
        i += 2;
      } else if (i >= a.length || bucket < a[i]!) {
        merged.push(bucket, count);
        j += 1;
      } else {
        merged.push(a[i]!, a[i + 1]! + count);
        i += 2;
        j += 1;
      }
    }
    this.cells = merged;
    this.total += asSmallInteger(total);
    return end;
  }

  merge(other: LogHistogram): void {
    if (other.total === 0) return;
    const a = this.cells;
    const b = other.cells;
    const merged: number[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (j >= b.length || (i < a.length && a[i]! < b[j]!)) {
        merged.push(a[i]!, a[i + 1]!);
        i += 2;
      } else if (i >= a.length || b[j]! < a[i]!) {
        merged.push(b[j]!, b[j + 1]!);
        j += 2;
      } else {
        merged.push(a[i]!, a[i + 1]! + b[j + 1]!);
        i += 2;
        j += 2;
      }
    }
    this.cells = merged;
    this.total += other.total;
  }

  /** How many values lie above `value` (to the histogram's resolution). */
  countAbove(value: number): number {
    const cells = this.cells;
    let n = 0;
    for (let i = this.indexOf(bucketOf(Math.max(0, value)) + 1); i < cells.length; i += 2) n += cells[i + 1]!;
    return n;
  }

  /** Count, Σ ln(1 + v) and Σ ln(1 + v)² of the values at or below `value` (bucket middles). */
  momentsUpTo(value: number): { count: number; sumLog: number; sumLogSquares: number } {
    const limit = bucketOf(Math.max(0, value));
    const cells = this.cells;
    let count = 0;
    let sumLog = 0;
    let sumLogSquares = 0;
    for (let i = 0; i < cells.length && cells[i]! <= limit; i += 2) {
      const n = cells[i + 1]!;
      const log = (cells[i]! - 0.5) * LOG_GAMMA;
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
    const cells = this.cells;
    let seen = 0;
    let i = 0;
    for (; i < cells.length - 2; i += 2) {
      seen += cells[i + 1]!;
      if (seen >= rank) break;
    }
    // The bucket's geometric middle, shifted back.
    return Math.exp((cells[i]! - 0.5) * LOG_GAMMA) - 1;
  }

  /** Where `bucket`'s cell is, or would be inserted: the first even index whose bucket is ≥ it. */
  private indexOf(bucket: number): number {
    const cells = this.cells;
    let lo = 0;
    let hi = cells.length >> 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cells[mid << 1]! < bucket) lo = mid + 1;
      else hi = mid;
    }
    return lo << 1;
  }
}

/**
 * Buckets are below this, so that a packed cell holds its bucket and count in one double: the
 * largest finite double is e^709.8, bucket ⌈709.8 / ln 1.02⌉ = 35,844 (and a count is exact up to 2³⁷).
 */
const PACKED_BUCKETS = 2 ** 16;

/**
 * `value`, as a small integer when it is one. V8 keeps a field (or an array) unboxed as small
 * integers only while every value stored in it is one, and a number read from an array of doubles
 * (a SealedWindow) comes as a double even when it is whole: stored as it comes, it would make every
 * window's counts boxed doubles.
 */
export function asSmallInteger(value: number): number {
  return (value | 0) === value ? value | 0 : value;
}

/** The bucket of `value`. */
function bucketOf(value: number): number {
  return bucketOfLog(Math.log1p(value));
}

/** The bucket of a value given as ln(1 + v), as a 31-bit integer (`| 0`), so that V8 stores it unboxed. */
function bucketOfLog(log: number): number {
  return Math.ceil(log / LOG_GAMMA) | 0;
}
