// One agent's incidents and what its baseline may learn, for the live detector and `agentwatch
// score` alike.
//
// Fire: `fireAfter` anomalous windows in a row (score above the threshold) open an incident, or one
//   severe window (far above it: DETECT_FIRE_AT_ONCE_P) unless the agent has small samples (a worker).
// Stay: an incident resolves after `resolveAfter` recovered windows in a row. The caller may say
//   whether a window shows recovery (`recovered`: the live detector tests the behaviour that fired
//   the incident on the latest windows alone); by default a window recovers when it is not elevated
//   (at or below the lower stay threshold), and with k windows pooled it takes resolveAfter + k − 1
//   of them. So an incident does not resolve while behaviour hovers just under the alert threshold.
// Learn: a window is learned only once `learnDelay` later windows proved normal too (at or below the
//   stay threshold, no incident). An elevated window, or an incident, discards the windows waiting,
//   so the baseline learns nothing of an incident: not its onset, not the windows around it.
// Never stuck: if nothing was learned for `acceptAfterWindows` scored windows (an incident that never
//   ends, or behaviour that stays elevated), the current behaviour is accepted as the new normal: an
//   open incident resolves with resolution 'accepted', and the caller starts the baseline over
//   (`restart`). That is the only path out of FIRING besides recovery and an operator's acceptance.

import type { WindowScore } from './window-scorer.js';

export type AlertState = 'FIRING' | 'RESOLVED';
/** How an incident ended: behaviour came back, or it was accepted as the new normal. */
export type Resolution = 'recovered' | 'accepted';

export interface AlertTransition {
  state: AlertState;
  alertId: string;
  /** Start of the first anomalous window of the incident. */
  onset: number;
  /** Set on RESOLVED. */
  resolution: Resolution | null;
}

export interface TrackerOptions {
  fireAfter: number;
  resolveAfter: number;
  learnDelay: number;
  acceptAfterWindows: number;
  /**
   * The agent's windows hold few samples (a worker's share of its capability): one severe window
   * never fires at once, and each pooled window counts fully toward the run needed to fire.
   */
  smallSamples: boolean;
}

export interface TrackerStep {
  transition: AlertTransition | undefined;
  /** The baseline must start over (the current behaviour was accepted as normal). */
  restart: boolean;
}

export class IncidentTracker<T> {
  private anomalousRun = 0;
  private recoveredRun = 0;
  private firstAnomalous = 0;
  private incident: { alertId: string; onset: number } | undefined;
  private readonly waiting: Array<{ item: T; score: number | null }> = [];
  private unlearned = 0;

  constructor(
    private readonly agent: string,
    private readonly options: TrackerOptions,
    private readonly learn: (item: T, score: number | null) => void,
  ) {}

  get firing(): boolean {
    return this.incident !== undefined;
  }

  /** Ends an open incident as accepted (an operator said so); the caller restarts the baseline. */
  accept(): AlertTransition | undefined {
    this.waiting.length = 0;
    this.unlearned = 0;
    return this.close('accepted');
  }

  /**
   * Feeds one closed window: its score (null while warming up), what learning it would take, and
   * how many windows its evidence pooled. With k windows pooled, one window's events weigh in k
   * scores in a row, so firing takes more anomalous windows in a row (windowsToFire). `recovered`:
   * the caller's judgement whether this window shows the incident over (see the header); without
   * it, resolving takes resolveAfter + k − 1 windows that are not elevated.
   */
  update(score: WindowScore, item: T, windowStart: number, pooled = 1, recovered?: boolean): TrackerStep {
    if (score.score === null) {
      // Warming up: everything is learned, nothing alerts.
      this.learn(item, null);
      return { transition: undefined, restart: false };
    }
    let transition: AlertTransition | undefined;
    if (score.anomaly) {
      if (this.anomalousRun === 0) this.firstAnomalous = windowStart;
      this.anomalousRun += 1;
    } else {
      this.anomalousRun = 0;
    }
    this.recoveredRun = (recovered ?? !score.elevated) ? this.recoveredRun + 1 : 0;
    const toResolve = recovered === undefined ? this.options.resolveAfter + pooled - 1 : this.options.resolveAfter;
    if (
      this.incident === undefined &&
      score.anomaly &&
      ((score.severe && !this.options.smallSamples) || this.anomalousRun >= this.windowsToFire(pooled))
    ) {
      this.incident = { alertId: `${this.agent}@${this.firstAnomalous}`, onset: this.firstAnomalous };
      transition = { state: 'FIRING', ...this.incident, resolution: null };
    } else if (this.incident !== undefined && this.recoveredRun >= toResolve) {
      transition = this.close('recovered');
    }

    if (score.elevated || this.incident !== undefined) {
      this.waiting.length = 0;
    } else {
      this.waiting.push({ item, score: score.score });
      while (this.waiting.length > this.options.learnDelay) {
        const oldest = this.waiting.shift()!;
        this.learn(oldest.item, oldest.score);
        this.unlearned = 0;
      }
    }
    this.unlearned += 1;
    if (this.unlearned > this.options.acceptAfterWindows) {
      this.waiting.length = 0;
      this.unlearned = 0;
      return { transition: this.close('accepted') ?? transition, restart: true };
    }
    return { transition, restart: false };
  }

  /**
   * Anomalous windows in a row that fire, with k windows pooled: fireAfter + ⌊(k − 1)/2⌋, so that one
   * window's events (which weigh in k pooled scores) cannot fire alone past fireAfter = 2; with small
   * samples, fireAfter + k − 1.
   */
  private windowsToFire(pooled: number): number {
    return this.options.fireAfter + (this.options.smallSamples ? pooled - 1 : Math.floor((pooled - 1) / 2));
  }

  private close(resolution: Resolution): AlertTransition | undefined {
    const open = this.incident;
    if (open === undefined) return undefined;
    this.incident = undefined;
    this.anomalousRun = 0;
    this.recoveredRun = 0;
    return { state: 'RESOLVED', ...open, resolution };
  }
}
