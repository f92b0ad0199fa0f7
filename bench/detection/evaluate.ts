// Scores a detector's alerts on a generated fleet run (test/fixtures/realistic-fleet.ts) against the
// faults injected into it: false alerts, time spent firing on clean agents, and per fault whether,
// how fast, for whom, for which feature and for how long it was alerted. Pure: no clock, no I/O.
//
// Definitions (W = windowMs; windows are [k·W, (k+1)·W) in epoch ms, as the detector cuts them):
// - Incident: the alerts sharing an alertId. It FIRES at the windowStart of its first FIRING alert
//   and stops at the windowStart of its first RESOLVED alert after that (the resolving window is not
//   firing), or at the end of the run's last window when never resolved. A RESOLVED alert without a
//   FIRING one is ignored; repeated FIRING alerts of an incident do not start a new one.
// - An incident's target: its FIRING alert's agent (a capability or a worker name); its capability:
//   the alert's `capability`, else the capability the agent is or serves (from the profiles).
// - An incident matches a fault when its agent is the fault's capability or the fault's worker, or
//   its capability is the fault's capability. It names the RIGHT target when it matches, except for
//   a bad-worker fault with a worker: then only an incident of that worker is right.
// - A fault's effect end: the last record it shaped (run.faultEffectEnds): the fault ends at request
//   time, but the answers, retries and timeouts of the tasks it touched come later.
// - A fault's span: [fault start, effect end + GRACE_WINDOWS·W) — the fault and its recovery.
// - A fault's windows: the windows that overlap [fault start, fault end).
// - A clean window of a capability: one that overlaps no span of a fault on that capability.

import { tailFaultShareBeyond, type FleetFault, type FaultKind, type FleetProfile } from '../../src/sim/index.js';

export interface EvaluatedAlert {
  /** A capability or a worker name. */
  agent: string;
  capability?: string;
  state: 'FIRING' | 'RESOLVED';
  alertId: string;
  windowStart: number;
  windowEnd: number;
  features: Array<{ name: string; contribution: number }>;
}

export interface FaultOutcome {
  fault: FleetFault;
  /** An incident matching the fault FIRED inside the fault's span (so not one already firing before it). */
  detected: boolean;
  /** The incident taken as the detection names the right target (the first right-target incident raised in the span is preferred to the first matching one). */
  rightTarget: boolean;
  /** Feature with the largest contribution in that incident's FIRING alert. */
  topFeature: string | null;
  /** topFeature matches EXPECTED_FEATURES[fault.kind]. */
  rightFeature: boolean;
  /** (windowStart of that FIRING alert − start of the window holding the fault start) / W, ≥ 0; null when not detected. */
  delayWindows: number | null;
  /** Share of the fault's windows whose start lies in a FIRING interval of a right-target incident (any, also one raised before the fault). */
  coverage: number;
  /**
   * Of the incidents of the detection's kind (right-target, else matching) firing during the fault's
   * windows, the one that stops last: (windowStart of its RESOLVED − end of the fault's last window) / W.
   * 0: resolved by the first window after the fault; negative: resolved while the fault went on.
   * Null when not detected, or when that incident is still firing at the end of the run.
   */
  resolvedWindowsAfterEnd: number | null;
  /** The same, counted from the end of the window holding the fault's last effect (its effect end). */
  resolvedWindowsAfterEffect: number | null;
}

export interface RunQuality {
  /** Capabilities × run hours (workers are counted with their capability). */
  agentHours: number;
  /** Incidents whose FIRING window overlaps the span of no fault they match. */
  falseAlerts: number;
  falseAlertsPer100AgentHours: number;
  /**
   * Per capability, the share of its clean windows whose start lies in a FIRING interval of one of
   * its incidents (of the capability or of any of its workers); the mean over capabilities
   * (capabilities without clean windows are left out; 0 when none has any).
   */
  firingShareOfCleanTime: number;
  /** The same share, the largest over capabilities. */
  maxFiringShare: number;
  /** One per fault, in the order of run.faults. */
  faults: FaultOutcome[];
}

/** A tail fault with at least this share of its slowed attempts beyond the TTL shows as timeouts too. */
export const SLOWED_BEYOND_TTL_SHARE = 0.25;

/** Windows after a fault's end during which an alert on its target is still put down to it. */
export const GRACE_WINDOWS = 5;

/** Which top feature counts as right for each fault kind (feature names of src/detect/features.ts). */
export const EXPECTED_FEATURES: Record<FaultKind, RegExp> = {
  'latency-x4': /^latency_p(50|95)$/,
  'tail-latency': /^latency_p95$|tail/, // or timeout_rate when the slowed attempts outlast the TTL (evaluate)
  'error-rate': /^failure_rate$/,
  'stuck-worker': /^timeout_rate$/,
  'rate-drop': /^request_rate$/,
  'joint-shift': /^(latency_p50|latency_p95|request_rate|payload_bytes_mean|payload_bytes_p95)$/,
  'payload-x6': /^payload_bytes_(mean|p95)$/,
  'retry-storm': /^(retries_per_task|failure_rate)$/,
  'latency-drift': /^latency_p(50|95)$/,
  'bad-worker': /^(latency_p50|latency_p95|failure_rate)$/,
};

interface Incident {
  firing: EvaluatedAlert;
  agent: string;
  capability: string;
  /** [from, until): FIRING from its first FIRING window until its RESOLVED window (or the run end). */
  from: number;
  until: number;
  resolved: boolean;
}

export function evaluate(
  run: {
    profiles: FleetProfile[];
    faults: FleetFault[];
    faultEffectEnds?: number[];
    taskTtlMs?: number;
    start: number;
    end: number;
  },
  alerts: EvaluatedAlert[],
  windowMs: number,
): RunQuality {
  const W = windowMs;
  const alignDown = (t: number) => Math.floor(t / W) * W;
  const alignUp = (t: number) => Math.ceil(t / W) * W;
  const firstWindow = alignDown(run.start);
  const runEnd = alignUp(run.end);

  const capabilityOfAgent = new Map<string, string>();
  for (const profile of run.profiles) {
    capabilityOfAgent.set(profile.capability, profile.capability);
    for (const worker of profile.workers) capabilityOfAgent.set(worker, profile.capability);
  }
  const incidents = incidentsOf(
    alerts,
    runEnd,
    (alert) => alert.capability ?? capabilityOfAgent.get(alert.agent) ?? alert.agent,
  );

  const faultStart = (fault: FleetFault) => run.start + fault.startMs;
  /**
   * A tail-latency fault of which at least a quarter of the slowed attempts outlast the task TTL:
   * they time out, so timeout_rate is the truth too.
   */
  const slowedBeyondTtl = (fault: FleetFault) => {
    const profile = run.profiles.find((p) => p.capability === fault.capability);
    return profile !== undefined && tailFaultShareBeyond(profile, run.taskTtlMs ?? 60_000) >= SLOWED_BEYOND_TTL_SHARE;
  };
  const faultEnd = (fault: FleetFault) => run.start + fault.startMs + fault.durationMs;
  const effectEnd = (fault: FleetFault) =>
    Math.max(faultEnd(fault), run.faultEffectEnds?.[run.faults.indexOf(fault)] ?? 0);
  const spanEnd = (fault: FleetFault) => effectEnd(fault) + GRACE_WINDOWS * W;
  const matches = (incident: Incident, fault: FleetFault) =>
    incident.agent === fault.capability ||
    (fault.worker !== undefined && incident.agent === fault.worker) ||
    incident.capability === fault.capability;
  const isRightTarget = (incident: Incident, fault: FleetFault) =>
    fault.kind === 'bad-worker' && fault.worker !== undefined
      ? incident.agent === fault.worker
      : matches(incident, fault);
  /** The incident's FIRING alert window overlaps the fault's span. */
  const raisedInSpan = (incident: Incident, fault: FleetFault) =>
    incident.firing.windowStart < spanEnd(fault) && incident.firing.windowEnd > faultStart(fault);

  const falseAlerts = incidents.filter(
    (incident) => !run.faults.some((fault) => matches(incident, fault) && raisedInSpan(incident, fault)),
  ).length;

  const faults = run.faults.map((fault): FaultOutcome => {
    const onsetWindow = alignDown(faultStart(fault));
    const afterFault = alignUp(faultEnd(fault));
    const rightIncidents = incidents.filter((incident) => isRightTarget(incident, fault));
    const matchingIncidents = incidents.filter((incident) => matches(incident, fault));
    const firstRight = rightIncidents.find((incident) => raisedInSpan(incident, fault));
    const detection = firstRight ?? matchingIncidents.find((incident) => raisedInSpan(incident, fault));

    let faultWindows = 0;
    let coveredWindows = 0;
    for (let window = onsetWindow; window < afterFault; window += W) {
      faultWindows += 1;
      if (rightIncidents.some((incident) => incident.from <= window && window < incident.until)) coveredWindows += 1;
    }
    const coverage = faultWindows === 0 ? 0 : coveredWindows / faultWindows;

    if (detection === undefined) {
      return {
        fault,
        detected: false,
        rightTarget: false,
        topFeature: null,
        rightFeature: false,
        delayWindows: null,
        coverage,
        resolvedWindowsAfterEnd: null,
        resolvedWindowsAfterEffect: null,
      };
    }
    const topFeature = topFeatureOf(detection.firing);
    const sameKind = firstRight !== undefined ? rightIncidents : matchingIncidents;
    const lastToStop = sameKind
      .filter((incident) => incident.from < afterFault && incident.until > onsetWindow)
      .reduce((last, incident) => (incident.until > last.until ? incident : last), detection);
    return {
      fault,
      detected: true,
      rightTarget: firstRight !== undefined,
      topFeature,
      rightFeature:
        topFeature !== null &&
        (EXPECTED_FEATURES[fault.kind].test(topFeature) ||
          (fault.kind === 'tail-latency' && topFeature === 'timeout_rate' && slowedBeyondTtl(fault))),
      delayWindows: Math.max(0, (detection.firing.windowStart - onsetWindow) / W),
      coverage,
      resolvedWindowsAfterEnd: lastToStop.resolved ? (lastToStop.until - afterFault) / W : null,
      resolvedWindowsAfterEffect: lastToStop.resolved ? (lastToStop.until - alignUp(effectEnd(fault))) / W : null,
    };
  });

  const shares: number[] = [];
  for (const profile of run.profiles) {
    const spans = run.faults
      .filter((fault) => fault.capability === profile.capability)
      .map((fault) => [faultStart(fault), spanEnd(fault)] as const);
    const own = incidents.filter((incident) => incident.capability === profile.capability);
    let clean = 0;
    let firing = 0;
    for (let window = firstWindow; window < runEnd; window += W) {
      if (spans.some(([from, until]) => window < until && window + W > from)) continue;
      clean += 1;
      if (own.some((incident) => incident.from <= window && window < incident.until)) firing += 1;
    }
    if (clean > 0) shares.push(firing / clean);
  }

  const agentHours = (run.profiles.length * (run.end - run.start)) / 3_600_000;
  return {
    agentHours,
    falseAlerts,
    falseAlertsPer100AgentHours: agentHours > 0 ? (100 * falseAlerts) / agentHours : 0,
    firingShareOfCleanTime: shares.length > 0 ? shares.reduce((a, b) => a + b, 0) / shares.length : 0,
    maxFiringShare: shares.length > 0 ? Math.max(...shares) : 0,
    faults,
  };
}

/** Incidents in the order they fired. */
function incidentsOf(
  alerts: readonly EvaluatedAlert[],
  runEnd: number,
  capabilityOf: (alert: EvaluatedAlert) => string,
): Incident[] {
  const byId = new Map<string, EvaluatedAlert[]>();
  for (const alert of [...alerts].sort((a, b) => a.windowStart - b.windowStart)) {
    const list = byId.get(alert.alertId);
    if (list === undefined) byId.set(alert.alertId, [alert]);
    else list.push(alert);
  }
  const incidents: Incident[] = [];
  for (const list of byId.values()) {
    const firing = list.find((alert) => alert.state === 'FIRING');
    if (firing === undefined) continue;
    const resolved = list.find((alert) => alert.state === 'RESOLVED' && alert.windowStart >= firing.windowStart);
    incidents.push({
      firing,
      agent: firing.agent,
      capability: capabilityOf(firing),
      from: firing.windowStart,
      until: resolved?.windowStart ?? runEnd,
      resolved: resolved !== undefined,
    });
  }
  return incidents.sort((a, b) => a.from - b.from);
}

function topFeatureOf(alert: EvaluatedAlert): string | null {
  let top: { name: string; contribution: number } | null = null;
  for (const feature of alert.features) if (top === null || feature.contribution > top.contribution) top = feature;
  return top?.name ?? null;
}
