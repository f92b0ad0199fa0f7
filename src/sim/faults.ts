// The fleet model's faults: one vocabulary and one definition of what each does, for both fleets
// (the generated one in memory, realistic-fleet.ts, and the one on Kafka, fleet-simulator.ts). A
// fault acts on one capability (or one worker of it) for the attempts requested while it lasts.

export const FAULT_KINDS = [
  'latency-x4',
  'tail-latency',
  'error-rate',
  'stuck-worker',
  'rate-drop',
  'joint-shift',
  'payload-x6',
  'retry-storm',
  'latency-drift',
  'bad-worker',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** What each kind does, in a line (`--help`, docs). */
export const FAULT_EFFECTS: Readonly<Record<FaultKind, string>> = {
  'latency-x4': 'latency ×4',
  'tail-latency': '10 % of attempts slowed so that p95 rises about ×5',
  'error-rate': '25 % of attempts fail',
  'stuck-worker': 'the worker takes tasks and never answers',
  'rate-drop': 'request rate ×0.2',
  'joint-shift': 'latency ×1.4, payload ×0.7, request rate ×0.7 at once',
  'payload-x6': 'payload ×6',
  'retry-storm': '30 % of attempts fail, and every failed one is retried',
  'latency-drift': 'latency grows linearly, ×2 at the end',
  'bad-worker': 'the worker is 4× slower and fails 20 % of its attempts',
};

/** Kinds that act on one worker when the fault names one (else on every worker of the capability). */
export const WORKER_FAULT_KINDS: ReadonlySet<FaultKind> = new Set(['stuck-worker', 'bad-worker']);

/** How one attempt is served, after the faults active at its request time. */
export interface AttemptConditions {
  latencyFactor: number;
  /** Share of attempts slowed by tailMultiplier (tail-latency), else 0. */
  tailShare: number;
  tailMultiplier: number;
  failureRate: number;
  /** Probability that a failed attempt is re-sent. */
  retryGivenFailure: number;
  payloadFactor: number;
  /** The worker does not answer at all. */
  unanswered: boolean;
}

/** A capability's profile as far as a fault needs it. */
export interface FaultedProfile {
  failureRate: number;
  /** Share of tasks whose first attempt is retried. */
  retryRate: number;
  latencySigma: number;
}

/** tail-latency: share of attempts slowed, and the p95 ratio the slowdown aims at. */
const TAIL_SHARE = 0.1;
const TAIL_P95_RATIO = 5;
const Z_95 = 1.6449;

/** How much slower the attempts a tail-latency fault slows down become, for this latency sigma. */
export function tailMultiplier(latencySigma: number): number {
  return TAIL_P95_RATIO * Math.exp(Z_95 * latencySigma);
}

/** The conditions of an attempt with no fault. */
export function normalConditions(profile: FaultedProfile): AttemptConditions {
  return {
    latencyFactor: 1,
    tailShare: 0,
    tailMultiplier: 1,
    failureRate: profile.failureRate,
    retryGivenFailure: profile.failureRate > 0 ? Math.min(1, profile.retryRate / profile.failureRate) : 0,
    payloadFactor: 1,
    unanswered: false,
  };
}

/**
 * Applies one active fault to an attempt's conditions. `progress` is how far the fault has run, in
 * [0, 1) (latency-drift); `onWorker` whether the attempt went to the worker the fault names (or it
 * names none).
 */
export function applyFault(
  conditions: AttemptConditions,
  kind: FaultKind,
  profile: FaultedProfile,
  progress: number,
  onWorker: boolean,
): void {
  switch (kind) {
    case 'latency-x4':
      conditions.latencyFactor *= 4;
      break;
    case 'tail-latency':
      // A random 10 % of attempts become this much slower. The multiplier is set from the profile's
      // sigma so that p95 rises about ×5 for every profile (a fixed ×8 gives ×2.6 at sigma 0.7 and
      // ×4.9 at 0.3); the median moves by 5–10 %.
      conditions.tailShare = TAIL_SHARE;
      conditions.tailMultiplier = tailMultiplier(profile.latencySigma);
      break;
    case 'error-rate':
      conditions.failureRate = Math.max(conditions.failureRate, 0.25);
      break;
    case 'stuck-worker':
      if (onWorker) conditions.unanswered = true;
      break;
    case 'rate-drop':
      break; // acts on arrivals (rateFactor)
    case 'joint-shift':
      conditions.latencyFactor *= 1.4;
      conditions.payloadFactor *= 0.7;
      break;
    case 'payload-x6':
      conditions.payloadFactor *= 6;
      break;
    case 'retry-storm':
      conditions.failureRate = Math.max(conditions.failureRate, 0.3);
      conditions.retryGivenFailure = 1;
      break;
    case 'latency-drift':
      conditions.latencyFactor *= 1 + progress;
      break;
    case 'bad-worker':
      if (onWorker) {
        conditions.latencyFactor *= 4;
        conditions.failureRate = Math.max(conditions.failureRate, 0.2);
      }
      break;
  }
}

/** Multiplier of the request rate while a fault of this kind lasts (never above 1). */
export function rateFactor(kind: FaultKind): number {
  return kind === 'rate-drop' ? 0.2 : kind === 'joint-shift' ? 0.7 : 1;
}
