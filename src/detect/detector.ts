// Per-agent tumbling windows of event time, scored when they close, with incidents and learning
// decided by each agent's IncidentTracker. Pure: time comes in as the watermark.
//
// An event belongs to the window floor(timestamp / W) · W of its agent (the capability it serves);
// a task timeout to the window in which its TTL ran out. A window closes once the watermark (the
// pipeline's event clock) passes its end plus DETECT_LATENESS_MS; an event for a window already
// closed is counted as late (per agent) and left out of detection (it is still audited).
//
// Scoring a closed window (docs/detection.md has the maths):
// 1. Warm-up: an agent's first DETECT_WARMUP_WINDOWS windows teach its own profile (AgentProfile) and
//    are not scored. No agent is ever scored against another's baseline.
// 2. Evidence: the window, pooled with up to DETECT_POOL_WINDOWS − 1 windows before it until about
//    DETECT_POOL_MIN_REQUESTS requests are expected, gives one count-aware z per feature.
// 3. Score: D² of the z vector against the agent's learned mean and covariance of z (WindowScorer),
//    counting only features that moved in their worse direction by at least their minimum effect;
//    the threshold is the chi-bar-squared quantile of DETECT_P.
// 4. The tracker fires, keeps or resolves the incident and decides what is learned.
//
// Workers: where the wire names the agent that answered (event.answeredBy, a worker of the
// capability), its answers also go to a window of that worker, scored the same way against the
// worker's own profile. A worker's window counts as anomalous only when it is also off against the
// other workers of its capability in the same window (peer-evidence.ts): a change of the whole
// capability is the capability's incident; one worker unlike its peers is the worker's.

import type { DetectConfig } from '../config/index.js';
import { OrderedTable, type Ordered, type TaskTimeout } from '../correlate/index.js';
import { isDecoded, type AgentEvent } from '../decode/index.js';
import { AgentwatchError } from '../errors.js';
import { AgentProfile, type ProfileOptions } from './agent-profile.js';
import { normalSurvival } from './evidence.js';
import { DRIFT_Z, DriftWatch, type DriftOptions, type DriftTransition } from './drift-watch.js';
import {
  BOTH,
  DEFAULT_DIRECTIONS,
  DEFAULT_MIN_EFFECTS,
  FEATURE_NAMES,
  directionCode,
  type FeatureName,
} from './features.js';
import { PEER_DISTRIBUTION, peerScore } from './peer-evidence.js';
import { IncidentTracker, type AlertState, type Resolution, type TrackerOptions } from './incident-tracker.js';
import { scorerOptions } from './scorer-options.js';
import { severityOf, type Severity } from './threshold.js';
import { WindowAccumulator, type SealedWindow, type TaskExample } from './window-accumulator.js';
import { WindowScorer, type ScorerOptions, type WindowScore } from './window-scorer.js';

export interface FeatureExplanation {
  name: string;
  /** The window's value in the feature's unit (NaN when the window had no data for it). */
  value: number;
  /** The baseline's value in the same unit. */
  baselineMean: number;
  /** Count-aware evidence: signed z of the window (pool) against the baseline (NaN: no data). */
  z: number;
  /** Additive share of the score. */
  contribution: number;
}

export type AlertScope = 'capability' | 'worker';
/**
 * An incident (the window left the short-term baseline), or a drift (the baseline left its long-term
 * reference: drift-watch.ts); a consumer-group alert is raised outside detection, by the watch of
 * the agents' consumer groups (agent: the group), and delivered the same way.
 */
export type AlertKind = 'incident' | 'drift' | 'consumer-group';

export interface AnomalyAlert {
  alertId: string;
  /** The capability, or the worker's name for a worker's alert. */
  agent: string;
  capability: string;
  scope: AlertScope;
  kind: AlertKind;
  state: AlertState;
  /** An incident's from its p-value; a drift is always minor. */
  severity: Severity;
  /** Start of the first anomalous window of the incident. */
  onset: number;
  windowStart: number;
  windowEnd: number;
  score: number;
  threshold: number;
  pValue: number;
  /** On RESOLVED: whether behaviour recovered or was accepted as the new normal. */
  resolution: Resolution | null;
  /** With resolution 'accepted': who accepted (an API key's name, or 'agentwatch' after DETECT_ACCEPT_AFTER_MS). */
  acceptedBy: string | null;
  /** Every scored feature, largest contribution first. */
  features: FeatureExplanation[];
  /** Up to MAX_EXAMPLES tasks of the alert's window to look at: timeouts, failures, retries, the slowest. */
  examples: TaskExample[];
  /** A consumer-group alert's status and why (e.g. "STALLED: no commit for 62 s while 1,200 records wait"). */
  detail?: string;
}

export interface WindowReport {
  agent: string;
  capability: string;
  scope: AlertScope;
  windowStart: number;
  windowEnd: number;
  score: WindowScore;
  /** Selected feature values in order of `featureNames`, in their units. */
  values: Float64Array;
  /** The baseline's values, same order. */
  expected: Float64Array;
  /** Evidence z per selected feature, same order. */
  evidence: Float64Array;
  /** Windows pooled for the evidence (1: this window alone). */
  pooled: number;
  /** Windows pooled for the tail features' evidence (at least `pooled`). */
  tailPooled: number;
  /** A worker's D² against the other workers of its capability in the same window (null: capability, or no peers). */
  peerScore: number | null;
  /** The window's most notable tasks (timeouts, failures, retries, the slowest), for the alert. */
  examples: TaskExample[];
}

export interface DetectorStats {
  agents: number;
  windowsScored: number;
  anomalousWindows: number;
  lateEvents: number;
  agentsEvicted: number;
  firing: number;
  /** Incidents ended because their behaviour was accepted as the new normal. */
  accepted: number;
}

interface Learnable {
  window: SealedWindow;
  /** The evidence vector, null while the profile warms up. */
  z: Float64Array | null;
}

interface AgentState extends Ordered<AgentState> {
  /** The table's key: the capability, or capability NUL worker. */
  readonly key: string;
  /** The capability, or the worker's name. */
  agent: string;
  capability: string;
  scope: AlertScope;
  open: Map<number, WindowAccumulator>;
  /** The last closed windows, oldest first (for pooling). */
  recent: SealedWindow[];
  profile: AgentProfile;
  scorer: WindowScorer;
  tracker: IncidentTracker<Learnable>;
  lastWindow: number;
  /** Start of the next window to close: windows without any event close too (a silent agent is news). */
  nextToClose: number;
  lastReport: WindowReport | undefined;
  lateEvents: number;
  /** The open incident, for its recovery test; null while none is open. */
  incident: OpenIncident | null;
  /** A capability's drift against its long-term reference (null: a worker, or DETECT_DRIFT_REFERENCE_MS=0). */
  drift: DriftWatch | null;
}

/** An open incident as its recovery test sees it (see RECOVERY_MIN_INFORMATION). */
interface OpenIncident {
  /** Its severity when it fired: its RESOLVED alert says the same (Alertmanager identifies an alert by its labels). */
  severity: Severity;
  /** The features that fired it (selected indices). */
  features: number[];
  /** Its windows merged (those that fired it, then each until it looks over): its level. */
  pool: WindowAccumulator;
  windows: number;
  /** Evidence that it is over: S, a CUSUM of the windows' log-likelihood ratios. */
  evidence: number;
  /** Σ −ln L₀/L₁ over its windows, and how many: the information D one window of it carries. */
  information: number;
  informed: number;
}

/**
 * Recovery (docs/detection.md) is a sequential probability ratio test: is the agent back at its
 * baseline (H₀), or still at the incident's level (H₁, from the incident's windows merged)? Each
 * window alone adds its log-likelihood ratio ln L₀/L₁ over the features that fired the incident
 * (AgentProfile.recoveryRatio), at most h/2 (no single window ends an incident), to the evidence
 * S ← min(2h, max(0, S + ratio)), a CUSUM, and shows recovery when S ≥ h. While the incident goes on, such a CUSUM crosses h by chance about once in
 * (e^h − h − 1)/D windows (Siegmund), D the information of one window (the mean −ln L₀/L₁ of the
 * incident's windows). So h = ln(1 + N·D), N = DETECT_RESOLVE_HORIZON_WINDOWS (100): an incident
 * would be cut short about once in N windows of it, whatever its size; fewer in fact, since the
 * approximation ignores the cap per window and DETECT_RESOLVE_AFTER (bench: 1 in 45 incidents of
 * ~125 windows). It resolves about h/D windows after its end: one or two for a gross change (D in
 * the tens), more for a faint one on a quiet agent. A feature that barely moved (its incident level
 * ≈ its baseline) adds about nothing either way. No data adds nothing.
 */
/** Least information per window assumed (a faint incident on a quiet agent): h stays ≥ ln(1 + N·D_MIN). */
const RECOVERY_MIN_INFORMATION = 0.05;

/** Tail features (shares beyond the baseline's 99th percentile) pool this many times the samples, over at most TAIL_POOL_WINDOWS. */
const TAIL_POOL_FACTOR = 3;
const TAIL_POOL_WINDOWS = 6;
const TAIL_FEATURES = [FEATURE_NAMES.indexOf('latency_p95'), FEATURE_NAMES.indexOf('payload_bytes_p95')];

/**
 * Most windows a worker pools. A worker's pooled windows each count toward the run that fires it
 * (IncidentTracker smallSamples), so a long pool delays its alerts by as many windows; its evidence
 * is also compared with its peers' in the same window.
 */
const WORKER_POOL_WINDOWS = 3;

/** Pseudo-windows of the evidence baseline's prior (z = 0, variance 1). */
const EVIDENCE_PRIOR_WINDOWS = 30;

/** Most empty windows closed in a row for a silent agent; after that it skips to the present (a long gap in the log). */
const MAX_SILENT_WINDOWS = 360;

/** One agent as the API shows it: its last scored window, its baseline, whether it alerts. */
export interface AgentSnapshot {
  agent: string;
  capability: string;
  scope: AlertScope;
  firing: boolean;
  baselineWindows: number;
  warm: boolean;
  lateEvents: number;
  lastWindow: {
    windowStart: number;
    windowEnd: number;
    score: number | null;
    threshold: number;
    anomaly: boolean;
    pooledWindows: number;
  } | null;
  features: Array<{
    name: string;
    value: number | null;
    baselineMean: number | null;
    z: number | null;
    contribution: number | null;
  }>;
}

const WARMING: WindowScore = {
  score: null,
  threshold: Number.NaN,
  stayThreshold: Number.NaN,
  anomaly: false,
  severe: false,
  elevated: false,
  pValue: null,
  contributions: null,
};

export class Detector {
  readonly featureNames: readonly string[];
  private readonly selected: number[];
  private readonly directions: Int8Array;
  private readonly minEffects: Float64Array;
  private readonly oneSided: number;
  /**
   * The options every agent's parts are built with, built once: at 10,000 agents, an options object
   * (and sigma floor) per agent and part was several MB of heap.
   */
  private readonly scorerOptions: ScorerOptions;
  private readonly profileOptions: ProfileOptions;
  private readonly trackerOptions: { capability: TrackerOptions; worker: TrackerOptions };
  private readonly driftOptions: DriftOptions;
  private readonly agents = new OrderedTable<AgentState>();
  private closedBefore = Number.NEGATIVE_INFINITY;
  /**
   * No agent's next window to close starts before this (it may start later): while the watermark's
   * limit is below it, nothing closes and close() does not walk the agents (once per window, not
   * once per batch, at 10,000 agents).
   */
  private earliestToClose = Number.NEGATIVE_INFINITY;
  private readonly counters = { windowsScored: 0, anomalousWindows: 0, lateEvents: 0, agentsEvicted: 0, accepted: 0 };
  private lastWatermark = Number.NEGATIVE_INFINITY;

  constructor(private readonly config: DetectConfig) {
    const names = config.features.length > 0 ? config.features : FEATURE_NAMES;
    const known = (name: string) => (FEATURE_NAMES as readonly string[]).includes(name);
    const unknown = [...names, ...Object.keys(config.directions), ...Object.keys(config.minEffects)].filter(
      (name) => !known(name),
    );
    if (unknown.length > 0) {
      throw new AgentwatchError(
        'AW_DETECT_FEATURE_UNKNOWN',
        `DETECT_FEATURES, DETECT_DIRECTIONS or DETECT_MIN_EFFECTS name ${[...new Set(unknown)].join(', ')}; the features are ${FEATURE_NAMES.join(', ')}.`,
      );
    }
    this.featureNames = names;
    this.selected = names.map((name) => FEATURE_NAMES.indexOf(name as (typeof FEATURE_NAMES)[number]));
    this.directions = Int8Array.from(FEATURE_NAMES, (name, i) =>
      config.directions[name] === undefined ? DEFAULT_DIRECTIONS[i]! : directionCode(config.directions[name]!),
    );
    this.minEffects = Float64Array.from(FEATURE_NAMES, (name, i) => config.minEffects[name] ?? DEFAULT_MIN_EFFECTS[i]!);
    this.oneSided = this.selected.filter((i) => this.directions[i] !== BOTH).length;
    const d = names.length;
    this.scorerOptions = scorerOptions(config, new Float64Array(d).fill(1), 0, this.oneSided);
    this.profileOptions = { rateMemoryWindows: config.rateMemoryWindows, memoryWindows: config.memoryWindows };
    const acceptAfterWindows = Math.max(1, Math.round(config.acceptAfterMs / config.windowMs));
    const trackerOptions = (smallSamples: boolean): TrackerOptions => ({
      fireAfter: config.fireAfter,
      resolveAfter: config.resolveAfter,
      learnDelay: config.learnDelayWindows,
      acceptAfterWindows,
      smallSamples,
    });
    // A worker's window holds a fraction of its capability's samples: its small-sample evidence has
    // heavier tails than its z says.
    this.trackerOptions = { capability: trackerOptions(false), worker: trackerOptions(true) };
    this.driftOptions = {
      memoryWindows: config.memoryWindows,
      referenceMemoryWindows: Math.max(1, Math.round(config.driftReferenceMs / config.windowMs)),
      rateMemoryWindows: config.rateMemoryWindows,
      acceptAfterWindows,
      minEffects: this.minEffects,
      directions: this.directions,
    };
  }

  /** Adds events and timeouts, closes the windows the watermark has passed, and returns what closed and what alerted. */
  process(
    events: readonly AgentEvent[],
    timeouts: readonly TaskTimeout[],
    watermark: number,
  ): { windows: WindowReport[]; alerts: AnomalyAlert[] } {
    for (const event of events) {
      if (!isDecoded(event.encoding) || event.clockSkew !== null) continue;
      const window = this.accumulator(event.capability, null, event.timestamp);
      if (window === undefined) continue;
      window.addEvent(event);
      const worker = event.answeredBy;
      if (worker === null || worker === event.capability) continue;
      // The worker's window: its answers, and latencies carried by requests read after their answer.
      const ofWorker = this.accumulator(event.capability, worker, event.timestamp)!;
      if (event.kind !== 'request') ofWorker.addEvent(event);
      else if (event.latencyMs !== null) ofWorker.addLatency(event.latencyMs);
    }
    for (const timeout of timeouts) this.accumulator(timeout.capability, null, timeout.expiredAt)?.addTimeout(timeout);
    this.lastWatermark = Math.max(this.lastWatermark, watermark);
    return this.close();
  }

  /** Every window starting at or before this event time (ms since the epoch) has closed; -Infinity before the first. */
  closedThrough(): number {
    return this.lastWatermark - this.config.windowMs - this.config.latenessMs;
  }

  stats(): DetectorStats {
    let firing = 0;
    for (const state of this.agents.values()) if (state.tracker.firing) firing += 1;
    return { agents: this.agents.size, firing, ...this.counters };
  }

  /**
   * An operator accepts an agent's (capability's or worker's) current behaviour as its new normal:
   * its open incident resolves as accepted by `by`, and its baseline starts over from the present.
   * 'unknown' when no such agent is watched, 'not-firing' when it has no incident to accept.
   */
  accept(agent: string, by: string): AnomalyAlert[] | 'unknown' | 'not-firing' {
    let found: AgentState | undefined;
    for (const state of this.agents.values()) if (state.agent === agent) found = state;
    if (found === undefined) return 'unknown';
    const report = found.lastReport;
    if (report === undefined || !(found.tracker.firing || found.drift?.open === true)) return 'not-firing';
    const alerts: AnomalyAlert[] = [];
    const transition = found.tracker.accept();
    if (transition !== undefined)
      alerts.push(
        this.alert(
          report,
          transition.state,
          transition.alertId,
          transition.onset,
          'accepted',
          by,
          found.incident?.severity,
        ),
      );
    const drift = found.drift?.restart(found.profile);
    if (drift !== undefined) alerts.push(this.driftAlert(report, drift, by));
    this.counters.accepted += alerts.length;
    found.profile = this.newProfile();
    found.scorer = this.newScorer();
    found.incident = null;
    return alerts;
  }

  /** Each agent's last window score and threshold, without the baseline (cheap enough for every scrape). */
  lastScores(): Array<{ agent: string; score: number | null; threshold: number }> {
    const scores: Array<{ agent: string; score: number | null; threshold: number }> = [];
    for (const state of this.agents.values()) {
      const report = state.lastReport;
      if (report !== undefined)
        scores.push({ agent: state.agent, score: report.score.score, threshold: report.score.threshold });
    }
    return scores;
  }

  /** Every agent's last scored window and baseline, most recently seen last. */
  snapshot(): AgentSnapshot[] {
    const agents: AgentSnapshot[] = [];
    const finite = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);
    for (const state of this.agents.values()) {
      const report = state.lastReport;
      agents.push({
        agent: state.agent,
        capability: state.capability,
        scope: state.scope,
        firing: state.tracker.firing,
        baselineWindows: state.profile.windows,
        warm: state.profile.windows >= this.config.warmupWindows,
        lateEvents: state.lateEvents,
        lastWindow:
          report === undefined
            ? null
            : {
                windowStart: report.windowStart,
                windowEnd: report.windowEnd,
                score: report.score.score,
                threshold: report.score.threshold,
                anomaly: report.score.anomaly,
                pooledWindows: report.pooled,
              },
        features: this.featureNames.map((name, i) => ({
          name,
          value: finite(report?.values[i]),
          baselineMean: finite(report?.expected[i]),
          z: finite(report?.evidence[i]),
          contribution: report?.score.contributions?.[i] ?? null,
        })),
      });
    }
    return agents;
  }

  private newState(key: string, capability: string, worker: string | null, start: number): AgentState {
    const agent = worker ?? capability;
    const state: AgentState = {
      key,
      older: undefined,
      newer: undefined,
      agent,
      capability,
      scope: worker === null ? 'capability' : 'worker',
      open: new Map(),
      recent: [],
      profile: this.newProfile(),
      scorer: this.newScorer(),
      tracker: new IncidentTracker<Learnable>(
        agent,
        worker === null ? this.trackerOptions.capability : this.trackerOptions.worker,
        (item, score) => {
          const window = WindowAccumulator.unseal(item.window);
          state.profile.learn(window);
          state.drift?.learn(window);
          if (item.z !== null) state.scorer.learn(item.z, score);
        },
      ),
      lastWindow: start,
      nextToClose: start,
      lastReport: undefined,
      lateEvents: 0,
      incident: null,
      drift: worker === null && this.config.driftReferenceMs > 0 ? new DriftWatch(agent, this.driftOptions) : null,
    };
    return state;
  }

  private newProfile(): AgentProfile {
    return new AgentProfile(this.profileOptions);
  }

  /**
   * The evidence baseline starts at the model's expectation, z = 0 with variance 1, worth
   * EVIDENCE_PRIOR_WINDOWS windows: its first real windows cannot bias it far.
   */
  private newScorer(): WindowScorer {
    const d = this.featureNames.length;
    const scorer = new WindowScorer(d, this.scorerOptions);
    const expectation = new Float64Array(d);
    for (let i = 0; i < EVIDENCE_PRIOR_WINDOWS; i += 1) scorer.learn(expectation);
    return scorer;
  }

  /** The open window of a capability (worker null) or of one of its workers; undefined when it closed already (counted late). */
  private accumulator(capability: string, worker: string | null, timestamp: number): WindowAccumulator | undefined {
    const start = Math.floor(timestamp / this.config.windowMs) * this.config.windowMs;
    const key = worker === null ? capability : `${capability}\u0000${worker}`;
    let state = this.agents.get(key);
    if (start + this.config.windowMs + this.config.latenessMs <= this.lastWatermark || start < this.closedBefore) {
      this.counters.lateEvents += 1;
      if (state !== undefined) state.lateEvents += 1;
      return undefined;
    }
    if (state === undefined) {
      state = this.newState(key, capability, worker, start);
      if (this.agents.size >= this.config.maxAgents) this.evictLeastRecent();
    }
    state.lastWindow = Math.max(state.lastWindow, start);
    // An event for a window before the first one this agent was seen in (a backlog read out of order:
    // an answer read before its requests) opens that window: it has not closed (the checks above),
    // and without this the agent would skip every window before its first-read record, for good.
    if (start < state.nextToClose) state.nextToClose = start;
    if (state.nextToClose < this.earliestToClose) this.earliestToClose = state.nextToClose;
    this.agents.set(state); // most recently seen last
    let window = state.open.get(start);
    if (window === undefined) {
      window = new WindowAccumulator();
      state.open.set(start, window);
    }
    return window;
  }

  private evictLeastRecent(): void {
    const oldest = this.agents.oldest();
    if (oldest === undefined) return;
    this.agents.delete(oldest.key);
    this.counters.agentsEvicted += 1;
  }

  private close(): { windows: WindowReport[]; alerts: AnomalyAlert[] } {
    const { windowMs } = this.config;
    const limit = this.closedThrough(); // windows starting at or before it close
    if (limit < this.earliestToClose) return { windows: [], alerts: [] };
    // Every window the watermark passed closes, in window order across agents; for each window
    // start: 1. score every agent's window, 2. a worker is anomalous only when it is also unlike its
    // peers in that window, 3. incidents and learning (which the next window's scores build on).
    const due: AgentState[] = [];
    let from = Number.POSITIVE_INFINITY;
    let earliestLater = Number.POSITIVE_INFINITY;
    for (const state of this.agents.values()) {
      if (state.nextToClose > limit) {
        earliestLater = Math.min(earliestLater, state.nextToClose);
        continue;
      }
      if ((limit - state.nextToClose) / windowMs >= MAX_SILENT_WINDOWS) {
        state.nextToClose = (Math.floor(limit / windowMs) - (MAX_SILENT_WINDOWS - 1)) * windowMs;
        for (const start of state.open.keys()) if (start < state.nextToClose) state.open.delete(start);
      }
      due.push(state);
      from = Math.min(from, state.nextToClose);
    }
    const reports: WindowReport[] = [];
    const alerts: AnomalyAlert[] = [];
    for (let start = from; start <= limit; start += windowMs) {
      const closed: Array<{
        state: AgentState;
        window: WindowAccumulator;
        sealed: SealedWindow;
        report: WindowReport;
      }> = [];
      for (const state of due) {
        if (state.nextToClose !== start) continue;
        const window = state.open.get(start) ?? new WindowAccumulator();
        state.open.delete(start);
        state.nextToClose = start + windowMs;
        const sealed = window.seal();
        closed.push({ state, window, sealed, report: this.scoreWindow(state, start, window, sealed) });
      }
      if (closed.some((c) => c.state.scope === 'worker')) this.compareWithPeers(closed);
      for (const { state, window, sealed, report } of closed) {
        reports.push(report);
        this.track(state, window, sealed, report, alerts);
      }
    }
    this.closedBefore = Math.max(this.closedBefore, limit);
    for (const state of due) earliestLater = Math.min(earliestLater, state.nextToClose);
    this.earliestToClose = earliestLater;
    return { windows: reports, alerts };
  }

  /** Feeds a scored window to its agent's tracker and drift watch: incident and drift transitions (into `alerts`), learning, a restart when accepted. */
  private track(
    state: AgentState,
    window: WindowAccumulator,
    sealed: SealedWindow,
    report: WindowReport,
    alerts: AnomalyAlert[],
  ): void {
    const open = state.tracker.firing;
    const recovered = open && report.score.score !== null ? this.recovered(state, window) : undefined;
    const step = state.tracker.update(
      report.score,
      { window: sealed, z: report.score.score === null ? null : report.evidence },
      report.windowStart,
      report.pooled,
      recovered,
    );
    const firedWith = state.incident?.severity;
    if (step.transition?.state === 'FIRING') {
      state.incident = this.openIncident(state, report);
    } else if (step.transition?.state === 'RESOLVED') {
      state.incident = null;
      // The windows before the recovered run may hold the incident: pooled evidence starts afresh
      // from the recovered windows, so that the incident's windows cannot fire a new one.
      if (recovered !== undefined) state.recent.splice(0, Math.max(0, state.recent.length - this.config.resolveAfter));
    }
    if (step.transition !== undefined) {
      const { state: alertState, alertId, onset, resolution } = step.transition;
      alerts.push(
        this.alert(
          report,
          alertState,
          alertId,
          onset,
          resolution,
          resolution === 'accepted' ? 'agentwatch' : null,
          alertState === 'RESOLVED' ? firedWith : undefined,
        ),
      );
    }
    if (step.restart) {
      this.counters.accepted += 1;
      const drift = state.drift?.restart(state.profile);
      if (drift !== undefined) alerts.push(this.driftAlert(report, drift, 'agentwatch'));
      state.profile = this.newProfile();
      state.scorer = this.newScorer();
    } else if (state.drift !== null && report.score.score !== null) {
      const drift = state.drift.check(state.profile, report.windowStart);
      if (drift !== undefined) {
        if (drift.resolution === 'accepted') this.counters.accepted += 1;
        alerts.push(this.driftAlert(report, drift, drift.resolution === 'accepted' ? 'agentwatch' : null));
      }
    }
  }

  /**
   * The incident a FIRING window opened: the features that fired it, and its level from the windows
   * that fired it, each of which also tells how much one window of it says (its information).
   */
  private openIncident(state: AgentState, report: WindowReport): OpenIncident {
    const features: number[] = [];
    for (let i = 0; i < this.featureNames.length; i += 1)
      if ((report.score.contributions?.[i] ?? 0) > 0) features.push(i);
    const fired = Math.min(Math.max(report.pooled, report.tailPooled), state.recent.length);
    const incident: OpenIncident = {
      severity: severityOf(report.score.pValue ?? 1),
      features,
      pool: this.pool(state, fired),
      windows: fired,
      evidence: 0,
      information: 0,
      informed: 0,
    };
    const selected = features.map((i) => this.selected[i]!);
    for (const sealed of state.recent.slice(-fired)) {
      const window = WindowAccumulator.unseal(sealed);
      incident.information -= state.profile.recoveryRatio(window, incident.pool, incident.windows, selected);
      incident.informed += 1;
    }
    return incident;
  }

  /**
   * Whether the latest window leaves the open incident over (see RECOVERY_MIN_INFORMATION). Until it
   * looks over, each window refines the incident's level and information (all of them, not only
   * those that look like it, which would make it look more extreme than it is).
   */
  private recovered(state: AgentState, window: WindowAccumulator): boolean {
    const incident = state.incident;
    if (incident === null) return false;
    const features = incident.features.map((i) => this.selected[i]!);
    const ratio = state.profile.recoveryRatio(window, incident.pool, incident.windows, features);
    const information = Math.max(RECOVERY_MIN_INFORMATION, incident.information / Math.max(1, incident.informed));
    const h = Math.log(1 + this.config.resolveHorizonWindows * information);
    // One window, however odd (a few samples far below both levels), brings at most half the way.
    incident.evidence = Math.min(2 * h, Math.max(0, incident.evidence + Math.min(ratio, h / 2)));
    const over = incident.evidence >= h;
    if (!over) {
      incident.pool.merge(window);
      incident.windows += 1;
      incident.information -= ratio;
      incident.informed += 1;
    }
    return over;
  }

  /**
   * Scores each closed worker window against the other workers of its capability in the same window,
   * and keeps it anomalous only when that peer score is elevated too (or when it has no peers with
   * answers, never: the capability's own window speaks for a lone worker).
   */
  private compareWithPeers(
    closed: ReadonlyArray<{ state: AgentState; window: WindowAccumulator; report: WindowReport }>,
  ): void {
    const groups = new Map<string, Array<{ state: AgentState; window: WindowAccumulator; report: WindowReport }>>();
    for (const c of closed) {
      if (c.state.scope !== 'worker') continue;
      const key = `${c.state.capability}\u0000${c.report.windowStart}`;
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [c]);
      else group.push(c);
    }
    const stay = PEER_DISTRIBUTION.quantile(this.config.stayP);
    for (const group of groups.values()) {
      for (const c of group) {
        const peers = new WindowAccumulator();
        for (const other of group) if (other !== c) peers.merge(other.window);
        if (!c.window.answered || !peers.answered) {
          c.report.score = { ...c.report.score, anomaly: false };
          continue;
        }
        const peer = peerScore(c.window, peers, this.featureRule);
        c.report.peerScore = peer.d2;
        if (peer.d2 <= stay) c.report.score = { ...c.report.score, anomaly: false };
      }
    }
  }

  private readonly featureRule = (name: FeatureName) => {
    const i = FEATURE_NAMES.indexOf(name);
    return { direction: this.directions[i]!, minEffect: this.minEffects[i]! };
  };

  /**
   * The merge of the agent's last `windows` closed windows, in a new accumulator; or `latest`, the
   * last of them, when it is the only one (and given: the caller does not add to what it gets).
   */
  private pool(state: AgentState, windows: number, latest?: WindowAccumulator): WindowAccumulator {
    if (windows === 1 && latest !== undefined) return latest;
    const pool = new WindowAccumulator();
    for (const sealed of state.recent.slice(-windows)) pool.mergeSealed(sealed);
    return pool;
  }

  private scoreWindow(state: AgentState, start: number, window: WindowAccumulator, sealed: SealedWindow): WindowReport {
    const { windowMs } = this.config;
    // Windows in which the agent sent nothing still count for pooling and the rate.
    state.recent.push(sealed);
    if (state.recent.length > Math.max(this.config.poolWindows, TAIL_POOL_WINDOWS)) state.recent.shift();
    const d = this.featureNames.length;
    const report: WindowReport = {
      agent: state.agent,
      capability: state.capability,
      scope: state.scope,
      windowStart: start,
      windowEnd: start + windowMs,
      score: WARMING,
      values: new Float64Array(d).fill(Number.NaN),
      expected: new Float64Array(d).fill(Number.NaN),
      evidence: new Float64Array(d).fill(Number.NaN),
      pooled: 1,
      tailPooled: 1,
      peerScore: null,
      examples: window.takeExamples(),
    };
    if (state.profile.windows < this.config.warmupWindows) {
      state.lastReport = report;
      return report;
    }
    const perWindow = state.profile.eventsPerWindow();
    const poolSize = (minimum: number, most: number) => {
      let k = 1;
      while (k < Math.min(most, state.recent.length) && perWindow * k < minimum) k += 1;
      return k;
    };
    const pooled = poolSize(
      this.config.poolMinRequests,
      state.scope === 'worker' ? Math.min(WORKER_POOL_WINDOWS, this.config.poolWindows) : this.config.poolWindows,
    );
    const evidence = state.profile.evidence(
      this.pool(state, pooled, window),
      pooled,
      windowMs,
      this.minEffects,
      this.directions,
    );
    // Tails count rare samples (1 in 100 normally): they need TAIL_POOL_FACTOR times the samples to say anything.
    const tailPooled = poolSize(this.config.poolMinRequests * TAIL_POOL_FACTOR, TAIL_POOL_WINDOWS);
    if (tailPooled > pooled) {
      const tails = state.profile.evidence(
        this.pool(state, tailPooled, window),
        tailPooled,
        windowMs,
        this.minEffects,
        this.directions,
      );
      for (const f of TAIL_FEATURES) {
        evidence.z[f] = tails.z[f]!;
        evidence.worse[f] = tails.worse[f]!;
        evidence.value[f] = tails.value[f]!;
        evidence.expected[f] = tails.expected[f]!;
      }
    }
    for (let i = 0; i < d; i += 1) {
      const f = this.selected[i]!;
      report.values[i] = evidence.value[f]!;
      report.expected[i] = evidence.expected[f]!;
      report.evidence[i] = evidence.z[f]!;
    }
    report.pooled = pooled;
    report.tailPooled = Math.max(pooled, tailPooled);
    report.score = state.scorer.score(report.evidence, (i) => evidence.worse[this.selected[i]!] === 1);
    this.counters.windowsScored += 1;
    if (report.score.anomaly) this.counters.anomalousWindows += 1;
    state.lastReport = report;
    return report;
  }

  private alert(
    report: WindowReport,
    state: AlertState,
    alertId: string,
    onset: number,
    resolution: Resolution | null,
    acceptedBy: string | null,
    /** A RESOLVED alert's: the severity its incident fired with. */
    severity?: Severity,
  ): AnomalyAlert {
    const { score } = report;
    const features = this.featureNames
      .map((name, i) => ({
        name,
        value: report.values[i]!,
        baselineMean: report.expected[i]!,
        z: report.evidence[i]!,
        contribution: score.contributions?.[i] ?? 0,
      }))
      .sort((a, b) => b.contribution - a.contribution);
    const pValue = score.pValue ?? 1;
    return {
      alertId,
      agent: report.agent,
      capability: report.capability,
      scope: report.scope,
      kind: 'incident',
      state,
      severity: severity ?? severityOf(pValue),
      onset,
      windowStart: report.windowStart,
      windowEnd: report.windowEnd,
      score: score.score ?? 0,
      threshold: score.threshold,
      pValue,
      resolution,
      acceptedBy,
      features,
      examples: report.examples,
    };
  }

  /**
   * A drift alert: the short-term levels against the long-term reference. A feature's contribution
   * is its z² when it drifted the worse way (0 otherwise); the score is their sum, the threshold
   * DRIFT_Z², the p-value that of the largest such z. Always minor: a slow change is news, not a page.
   */
  private driftAlert(report: WindowReport, drift: DriftTransition, acceptedBy: string | null): AnomalyAlert {
    const { evidence } = drift;
    let score = 0;
    let largest = 0;
    const features = this.featureNames
      .map((name, i) => {
        const f = this.selected[i]!;
        const z = evidence.z[f]!;
        const contribution = evidence.worse[f] === 1 && Number.isFinite(z) ? z * z : 0;
        score += contribution;
        largest = Math.max(largest, Math.sqrt(contribution));
        return { name, value: evidence.value[f]!, baselineMean: evidence.expected[f]!, z, contribution };
      })
      .sort((a, b) => b.contribution - a.contribution || size(b.z) - size(a.z)); // ties (all 0 once resolved): the furthest off first
    return {
      alertId: drift.alertId,
      agent: report.agent,
      capability: report.capability,
      scope: report.scope,
      kind: 'drift',
      state: drift.state,
      severity: 'minor',
      onset: drift.onset,
      windowStart: report.windowStart,
      windowEnd: report.windowEnd,
      score,
      threshold: DRIFT_Z * DRIFT_Z,
      pValue: normalSurvival(largest),
      resolution: drift.resolution,
      acceptedBy: drift.state === 'RESOLVED' ? acceptedBy : null,
      features,
      examples: report.examples,
    };
  }
}

const size = (z: number) => (Number.isFinite(z) ? Math.abs(z) : -1);
