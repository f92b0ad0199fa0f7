// Gradual drift of one capability against a long-term reference, reported apart from incidents and
// at the lowest severity.
//
// The short-term profile (DETECT_MEMORY_WINDOWS, 30 minutes by default) follows a slow change: it
// learns every window that is normal against it, and +100 % latency over two hours is never more
// than ~20 % ahead of it, under the minimum effect. So each capability also keeps a reference: a
// profile that learns the same normal windows with a memory of DETECT_DRIFT_REFERENCE_MS (a day by
// default). A drift is the short-term levels standing off the reference by at least a feature's
// minimum effect, the worse way, with z ≥ DRIFT_Z (AgentProfile.driftFrom):
// - it is judged once the reference holds MIN_REFERENCE_MEMORIES short-term memories of windows;
// - it opens after DRIFT_RUN_WINDOWS such windows in a row; while it is open the reference learns
//   nothing, so a drift that goes on cannot become the reference's normal by the back door;
// - it stays open while any feature stays off by half its minimum effect, and resolves (recovered)
//   after DRIFT_RUN_WINDOWS windows in a row without;
// - open for DETECT_ACCEPT_AFTER_MS, it is accepted as the new normal (resolution accepted, by
//   agentwatch) and the reference starts over, as after an operator's acceptance.

import { AgentProfile, type Evidence } from './agent-profile.js';
import type { AlertState, Resolution } from './incident-tracker.js';
import type { WindowAccumulator } from './window-accumulator.js';

/** z the drift's evidence must reach: each level is an average of hundreds of samples or more. */
export const DRIFT_Z = 4;
/** Windows in a row that open a drift, and that resolve it. */
const DRIFT_RUN_WINDOWS = 6;
/** A drift stays open while a feature is off by this share of its minimum effect. */
const STAY_SHARE = 0.5;
/** The reference judges only once it has learned this many short-term memories of windows. */
const MIN_REFERENCE_MEMORIES = 2;

export interface DriftOptions {
  /** Memory of the short-term profile, in windows. */
  memoryWindows: number;
  /** Memory of the reference, in windows. */
  referenceMemoryWindows: number;
  rateMemoryWindows: number;
  /** An open drift is accepted as the new normal after this many windows. */
  acceptAfterWindows: number;
  minEffects: ArrayLike<number>;
  directions: ArrayLike<number>;
}

export interface DriftTransition {
  state: AlertState;
  alertId: string;
  onset: number;
  resolution: Resolution | null;
  /** The short-term levels against the reference, in FEATURES order. */
  evidence: Evidence;
}

/** Each minimum effect times STAY_SHARE, computed once per minimum effects (one array shared by every agent's watch). */
const stayEffectsByMinEffects = new WeakMap<ArrayLike<number>, Float64Array>();
function stayEffectsOf(minEffects: ArrayLike<number>): Float64Array {
  let stayEffects = stayEffectsByMinEffects.get(minEffects);
  if (stayEffects === undefined) {
    stayEffects = Float64Array.from(minEffects, (e) => e * STAY_SHARE);
    stayEffectsByMinEffects.set(minEffects, stayEffects);
  }
  return stayEffects;
}

export class DriftWatch {
  private reference: AgentProfile;
  private drift: { alertId: string; onset: number; windows: number } | undefined;
  private run = 0;
  private firstDrifting = 0;
  private readonly stayEffects: Float64Array;

  constructor(
    private readonly agent: string,
    private readonly options: DriftOptions,
  ) {
    this.reference = this.newReference();
    this.stayEffects = stayEffectsOf(options.minEffects);
  }

  get open(): boolean {
    return this.drift !== undefined;
  }

  /** Learns a window the short-term profile learned (proved normal), unless a drift is open. */
  learn(window: WindowAccumulator): void {
    if (this.drift === undefined) this.reference.learn(window);
  }

  /** Compares the short-term profile with the reference after a window closed; a transition when the drift opens or ends. */
  check(short: AgentProfile, windowStart: number): DriftTransition | undefined {
    if (this.reference.windows < MIN_REFERENCE_MEMORIES * this.options.memoryWindows && this.drift === undefined)
      return undefined;
    const { minEffects, directions } = this.options;
    if (this.drift === undefined) {
      const evidence = short.driftFrom(this.reference, minEffects, directions);
      if (!drifting(evidence)) {
        this.run = 0;
        return undefined;
      }
      if (this.run === 0) this.firstDrifting = windowStart;
      this.run += 1;
      if (this.run < DRIFT_RUN_WINDOWS) return undefined;
      this.run = 0;
      this.drift = { alertId: `${this.agent}@drift@${this.firstDrifting}`, onset: this.firstDrifting, windows: 0 };
      return { state: 'FIRING', alertId: this.drift.alertId, onset: this.drift.onset, resolution: null, evidence };
    }
    const open = this.drift;
    open.windows += 1;
    const evidence = short.driftFrom(this.reference, this.stayEffects, directions);
    this.run = drifting(evidence) ? 0 : this.run + 1;
    if (this.run < DRIFT_RUN_WINDOWS && open.windows < this.options.acceptAfterWindows) return undefined;
    const resolution: Resolution = this.run >= DRIFT_RUN_WINDOWS ? 'recovered' : 'accepted';
    this.drift = undefined;
    this.run = 0;
    if (resolution === 'accepted') this.reference = this.newReference();
    return { state: 'RESOLVED', alertId: open.alertId, onset: open.onset, resolution, evidence };
  }

  /**
   * The present is the new normal (an incident or this drift was accepted): the reference starts
   * over, and an open drift ends as accepted.
   */
  restart(short: AgentProfile): DriftTransition | undefined {
    const evidence = short.driftFrom(this.reference, this.options.minEffects, this.options.directions);
    this.reference = this.newReference();
    this.run = 0;
    const open = this.drift;
    this.drift = undefined;
    if (open === undefined) return undefined;
    return { state: 'RESOLVED', alertId: open.alertId, onset: open.onset, resolution: 'accepted', evidence };
  }

  private newReference(): AgentProfile {
    return new AgentProfile({
      rateMemoryWindows: this.options.rateMemoryWindows,
      memoryWindows: this.options.referenceMemoryWindows,
    });
  }
}

/** Some feature stands off the reference the worse way, by its minimum effect and with z ≥ DRIFT_Z. */
function drifting(evidence: Evidence): boolean {
  for (let i = 0; i < evidence.worse.length; i += 1)
    if (evidence.worse[i] === 1 && Math.abs(evidence.z[i]!) >= DRIFT_Z) return true;
  return false;
}
