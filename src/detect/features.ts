// The window features scored per agent, each with the direction that is worse for the fleet and the
// smallest change that matters operationally. Only a change in the worse direction, and at least
// that large, adds to the score (see docs/detection.md).
//
// What each feature measures, and the evidence it contributes (evidence.ts):
// - request_rate: requests in the window (pool) against the baseline's rate; Poisson.
// - latency_p50: the mean of ln(latency) against the baseline's; effect = ratio of geometric means.
// - latency_p95: the tail: answers slower than the baseline's 99th percentile, against the share the
//   baseline sees there; binomial. The value shown is the window's 95th percentile.
// - retries_per_task, timeout_rate, failure_rate: proportions; binomial.
// - payload_bytes_mean, payload_bytes_p95: as latency_p50 and latency_p95, for payload sizes.

export type Direction = 'up' | 'down' | 'both';

export interface FeatureDefinition {
  name: string;
  description: string;
  /** Which change is worse (and alerts) by default. */
  direction: Direction;
  /**
   * Smallest change that alerts, by default: relative for rates, latencies and sizes (0.25: ±25 %),
   * absolute for proportions and tail shares (0.05: five more in a hundred).
   */
  minEffect: number;
}

export const FEATURES = [
  { name: 'request_rate', description: 'requests per second', direction: 'down', minEffect: 0.25 },
  {
    name: 'latency_p50',
    description: 'typical answer latency in ms (geometric mean, about the median)',
    direction: 'up',
    minEffect: 0.25,
  },
  {
    name: 'latency_p95',
    description:
      "95th percentile answer latency in ms; scored by the share of answers beyond the baseline's 99th percentile",
    direction: 'up',
    minEffect: 0.03,
  },
  { name: 'retries_per_task', description: 'retried requests per request', direction: 'up', minEffect: 0.05 },
  { name: 'timeout_rate', description: 'timeouts per request', direction: 'up', minEffect: 0.05 },
  {
    name: 'failure_rate',
    description: 'failed answers (errors, failed/rejected states) per answer',
    direction: 'up',
    minEffect: 0.05,
  },
  {
    name: 'payload_bytes_mean',
    description: 'typical payload size in bytes (geometric mean)',
    direction: 'both',
    minEffect: 0.25,
  },
  {
    name: 'payload_bytes_p95',
    description:
      "95th percentile payload size in bytes; scored by the share of payloads beyond the baseline's 99th percentile",
    direction: 'up',
    minEffect: 0.03,
  },
] as const satisfies readonly FeatureDefinition[];

export type FeatureName = (typeof FEATURES)[number]['name'];
export const FEATURE_NAMES: readonly FeatureName[] = FEATURES.map((f) => f.name);
export const FEATURE_COUNT = FEATURES.length;

/** Direction codes, per feature in typed arrays: 1 up, -1 down, 0 both. */
export const UP = 1;
export const DOWN = -1;
export const BOTH = 0;

export function directionCode(direction: Direction): number {
  return direction === 'up' ? UP : direction === 'down' ? DOWN : BOTH;
}

export const DEFAULT_DIRECTIONS = Int8Array.from(FEATURES, (f) => directionCode(f.direction));
export const DEFAULT_MIN_EFFECTS = Float64Array.from(FEATURES, (f) => f.minEffect);

/** Whether a signed change (an effect, or a z) is at least `size` the worse way for `direction`. */
export function movedWorse(direction: number, change: number, size: number): boolean {
  if (direction === UP) return change >= size;
  if (direction === DOWN) return -change >= size;
  return Math.abs(change) >= size;
}

/** A signed change (an effect, or a z) measured the worse way for `direction`: positive when worse. */
export function worseWay(direction: number, change: number): number {
  if (direction === UP) return change;
  if (direction === DOWN) return -change;
  return Math.abs(change);
}
