// Per-agent tumbling windows of event time, scored when they close, with hysteresis into alerts.
//
// An event belongs to the window floor(timestamp / W) · W of its agent (the capability it serves);
// a task timeout to the window in which its TTL ran out. A window closes once the watermark (the
// pipeline's event clock) passes its end plus DETECT_LATENESS_MS; an event for a window already
// closed is counted as late and left out of detection (it is still audited). Closed windows are
// scored by the agent's WindowScorer, or by the fleet's while the agent is warming up, and learned
// only when normal and no incident is ongoing. Pure: time comes in as the watermark.

import type { DetectConfig } from '../config/index.js';
import { OrderedTable, type TaskTimeout } from '../correlate/index.js';
import type { AgentEvent } from '../decode/index.js';
import { AgentwatchError } from '../errors.js';
import { FEATURES, FEATURE_NAMES } from './features.js';
import { Hysteresis, type AlertState } from './hysteresis.js';
import { scorerOptions } from './scorer-options.js';
import { severityOf, type Severity } from './threshold.js';
import { WindowAccumulator } from './window-accumulator.js';
import { WindowScorer, type WindowScore } from './window-scorer.js';

export interface FeatureExplanation {
  name: string;
  /** The window's value (NaN when the window had no data for it). */
  value: number;
  baselineMean: number;
  /** Additive share of the score. */
  contribution: number;
}

export interface AnomalyAlert {
  alertId: string;
  agent: string;
  state: AlertState;
  severity: Severity;
  /** Start of the first anomalous window of the incident. */
  onset: number;
  windowStart: number;
  windowEnd: number;
  score: number;
  threshold: number;
  pValue: number;
  /** Every scored feature, largest contribution first. */
  features: FeatureExplanation[];
}

export interface WindowReport {
  agent: string;
  windowStart: number;
  windowEnd: number;
  score: WindowScore;
  /** Selected feature values in order of `featureNames`. */
  values: Float64Array;
}

export interface DetectorStats {
  agents: number;
  windowsScored: number;
  anomalousWindows: number;
  lateEvents: number;
  agentsEvicted: number;
  firing: number;
}

interface AgentState {
  open: Map<number, WindowAccumulator>;
  scorer: WindowScorer;
  hysteresis: Hysteresis;
  lastWindow: number;
  lastReport: WindowReport | undefined;
}

/** One agent as the API shows it: its last scored window, its baseline, whether it alerts. */
export interface AgentSnapshot {
  agent: string;
  firing: boolean;
  baselineWindows: number;
  warm: boolean;
  lastWindow: { windowStart: number; windowEnd: number; score: number | null; threshold: number; anomaly: boolean } | null;
  features: Array<{ name: string; value: number | null; baselineMean: number; baselineSigma: number; contribution: number | null }>;
}

export class Detector {
  readonly featureNames: readonly string[];
  private readonly selected: number[];
  private readonly sigmaFloor: Float64Array;
  private readonly agents = new OrderedTable<AgentState>();
  private readonly fleet: WindowScorer;
  private closedBefore = Number.NEGATIVE_INFINITY;
  private readonly counters = { windowsScored: 0, anomalousWindows: 0, lateEvents: 0, agentsEvicted: 0 };
  private lastWatermark = Number.NEGATIVE_INFINITY;

  constructor(private readonly config: DetectConfig) {
    const names = config.features.length > 0 ? config.features : FEATURE_NAMES;
    const unknown = names.filter((name) => !(FEATURE_NAMES as readonly string[]).includes(name));
    if (unknown.length > 0) {
      throw new AgentwatchError('AW_DETECT_FEATURE_UNKNOWN', `DETECT_FEATURES names ${unknown.join(', ')}; the features are ${FEATURE_NAMES.join(', ')}.`);
    }
    this.featureNames = names;
    this.selected = names.map((name) => FEATURE_NAMES.indexOf(name as (typeof FEATURE_NAMES)[number]));
    this.sigmaFloor = Float64Array.from(this.selected, (i) => FEATURES[i]!.sigmaFloor);
    this.fleet = new WindowScorer(names.length, scorerOptions(config, this.sigmaFloor));
  }

  /** Adds events and timeouts, closes the windows the watermark has passed, and returns what closed and what alerted. */
  process(events: readonly AgentEvent[], timeouts: readonly TaskTimeout[], watermark: number): { windows: WindowReport[]; alerts: AnomalyAlert[] } {
    for (const event of events) {
      if (event.encoding === 'opaque' || event.clockSkew !== null) continue;
      const window = this.accumulator(event.capability, event.timestamp);
      window?.addEvent(event);
    }
    for (const timeout of timeouts) this.accumulator(timeout.capability, timeout.expiredAt)?.addTimeout(timeout);
    this.lastWatermark = Math.max(this.lastWatermark, watermark);
    return this.close(this.lastWatermark);
  }

  stats(): DetectorStats {
    let firing = 0;
    for (const [, state] of this.agents.entries()) if (state.hysteresis.firing) firing += 1;
    return { agents: this.agents.size, firing, ...this.counters };
  }

  /** Each agent's last window score and threshold, without the baseline (cheap enough for every scrape). */
  lastScores(): Array<{ agent: string; score: number | null; threshold: number }> {
    const scores: Array<{ agent: string; score: number | null; threshold: number }> = [];
    for (const [agent, state] of this.agents.entries()) {
      const report = state.lastReport;
      if (report !== undefined) scores.push({ agent, score: report.score.score, threshold: report.score.threshold });
    }
    return scores;
  }

  /** Every agent's last scored window and baseline, most recently seen last. */
  snapshot(): AgentSnapshot[] {
    const agents: AgentSnapshot[] = [];
    for (const [agent, state] of this.agents.entries()) {
      const report = state.lastReport;
      const sigma = state.scorer.baseline.sigma();
      const mean = state.scorer.baseline.mean;
      agents.push({
        agent,
        firing: state.hysteresis.firing,
        baselineWindows: state.scorer.baseline.windows,
        warm: state.scorer.warm,
        lastWindow: report === undefined ? null : { windowStart: report.windowStart, windowEnd: report.windowEnd, score: report.score.score, threshold: report.score.threshold, anomaly: report.score.anomaly },
        features: this.featureNames.map((name, i) => ({
          name,
          value: report === undefined || Number.isNaN(report.values[i]!) ? null : report.values[i]!,
          baselineMean: mean[i]!,
          baselineSigma: sigma[i]!,
          contribution: report?.score.contributions?.[i] ?? null,
        })),
      });
    }
    return agents;
  }

  private accumulator(agent: string, timestamp: number): WindowAccumulator | undefined {
    const start = Math.floor(timestamp / this.config.windowMs) * this.config.windowMs;
    if (start + this.config.windowMs + this.config.latenessMs <= this.lastWatermark || start < this.closedBefore) {
      this.counters.lateEvents += 1;
      return undefined;
    }
    let state = this.agents.get(agent);
    if (state === undefined) {
      state = {
        open: new Map(),
        scorer: new WindowScorer(this.featureNames.length, scorerOptions(this.config, this.sigmaFloor)),
        hysteresis: new Hysteresis(agent, this.config.fireAfter, this.config.resolveAfter),
        lastWindow: start,
        lastReport: undefined,
      };
      if (this.agents.size >= this.config.maxAgents) this.evictLeastRecent();
    }
    state.lastWindow = Math.max(state.lastWindow, start);
    this.agents.set(agent, state); // most recently seen last
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

  private close(watermark: number): { windows: WindowReport[]; alerts: AnomalyAlert[] } {
    const windows: WindowReport[] = [];
    const alerts: AnomalyAlert[] = [];
    const { windowMs, latenessMs } = this.config;
    for (const [agent, state] of this.agents.entries()) {
      const closable = [...state.open.keys()].filter((start) => start + windowMs + latenessMs <= watermark).sort((a, b) => a - b);
      for (const start of closable) {
        const accumulator = state.open.get(start)!;
        state.open.delete(start);
        const all = accumulator.features(windowMs);
        const values = Float64Array.from(this.selected, (i) => all[i]!);
        const mayLearn = !state.hysteresis.firing;
        const score = state.scorer.assess(values, mayLearn, this.fleet);
        if (!score.anomaly && mayLearn) this.fleet.assess(values, true);
        this.counters.windowsScored += 1;
        if (score.anomaly) this.counters.anomalousWindows += 1;
        const report = { agent, windowStart: start, windowEnd: start + windowMs, score, values };
        state.lastReport = report;
        windows.push(report);
        const transition = state.hysteresis.update(score.anomaly, start);
        if (transition !== undefined) alerts.push(this.alert(report, transition.state, transition.alertId, transition.onset));
      }
    }
    this.closedBefore = Math.max(this.closedBefore, watermark - windowMs - latenessMs);
    return { windows, alerts };
  }

  private alert(report: WindowReport, state: AlertState, alertId: string, onset: number): AnomalyAlert {
    const { score } = report;
    const features = this.featureNames.map((name, i) => ({
      name,
      value: report.values[i]!,
      baselineMean: score.baselineMean[i]!,
      contribution: score.contributions?.[i] ?? 0,
    })).sort((a, b) => b.contribution - a.contribution);
    const pValue = score.pValue ?? 1;
    return {
      alertId, agent: report.agent, state, severity: severityOf(pValue), onset,
      windowStart: report.windowStart, windowEnd: report.windowEnd,
      score: score.score ?? 0, threshold: score.threshold, pValue, features,
    };
  }
}
