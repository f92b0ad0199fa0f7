// Detection on a realistic, heterogeneous fleet (fast CI versions of bench/detection/): 12 agents
// at 0.5–5 req/s with a daily cycle, replayed from a backlog through the event clock, correlator and
// detector with the default configuration.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { Correlator } from '../../../src/correlate/index.js';
import type { AgentEvent } from '../../../src/decode/index.js';
import { Detector, IncidentTracker, type AnomalyAlert } from '../../../src/detect/index.js';
import type { WindowScore } from '../../../src/detect/index.js';
import { evaluate } from '../../../bench/detection/evaluate.js';
import { replayFleet } from '../../../bench/detection/fleet-replay.js';
import { fleetProfiles, generateFleet, type FaultKind, type FleetFault } from '../../../src/sim/index.js';

const HOUR = 3_600_000;
const config = loadConfig({});

/** A generated fleet with `faults`, read from a backlog and evaluated against them. */
function faultRunQuality(seed: number, durationMs: number, faults: FleetFault[]) {
  const run = generateFleet({ seed, durationMs, faults });
  const result = replayFleet(run.events, 'backlog', { seed, config });
  return evaluate(
    run,
    result.alerts.filter((a) => a.windowStart < run.end),
    config.detect.windowMs,
  );
}

describe('detection on a realistic fleet (defaults)', () => {
  test('3 hours of 12 heterogeneous agents without a fault: no alert, nothing late, no timeout', () => {
    const run = generateFleet({ seed: 21, durationMs: 3 * HOUR });
    const result = replayFleet(run.events, 'backlog', { seed: 21, config });
    const alerts = result.alerts.filter((a) => a.windowStart < run.end && a.state === 'FIRING');
    assert.deepEqual(
      alerts.map((a) => `${a.agent} ${a.features[0]!.name}`),
      [],
    );
    assert.equal(result.detector.lateEvents, 0);
    assert.equal(result.timeouts.length, run.expectedTimeouts);
  });

  const kinds: FaultKind[] = ['latency-x4', 'error-rate', 'rate-drop', 'payload-x6'];
  test(`${kinds.join(', ')}, 20 minutes each on the quietest agent: alerted for it, right feature, open while it lasts, over within 5 windows`, () => {
    const profiles = fleetProfiles(22, 12, [1, 3]);
    const quiet = [...profiles].sort((a, b) => a.ratePerSecond - b.ratePerSecond)[0]!;
    const faults = kinds.map((kind, i) => ({
      kind,
      capability: quiet.capability,
      startMs: HOUR + i * 40 * 60_000,
      durationMs: 20 * 60_000,
    }));
    const quality = faultRunQuality(22, 4 * HOUR, faults);
    for (const outcome of quality.faults) {
      const what = `${outcome.fault.kind} on ${quiet.capability} (${quiet.ratePerSecond.toFixed(2)} req/s): ${JSON.stringify(outcome)}`;
      assert.ok(outcome.detected && outcome.rightTarget, what);
      assert.ok(outcome.rightFeature, what);
      // One incident the whole time (the recovery test must not cut it short on 5 requests a window),
      // resolved within 5 windows of the fault's last effect. The error burst is the slow one: a
      // window of 5 answers without a failure says only 1.55 nats that 1 % is back rather than 30 %,
      // and the test needs ln(1 + 100·D) ≈ 6 of them (docs/detection.md; 8 windows with N = 1,000).
      assert.ok(outcome.coverage >= 0.9, what);
      assert.ok(outcome.resolvedWindowsAfterEffect !== null && outcome.resolvedWindowsAfterEffect <= 5, what);
    }
    assert.equal(quality.falseAlerts, 0);
  });

  test('a −80 % rate drop on the quietest agent in its daily trough is alerted: the baseline does not learn the drop', () => {
    // 3 requests a window expected, 0–1 seen: pooled z ≈ −4, D² ≈ 12–16, under the stay threshold of
    // D². Learned window after window (a 60-window rate memory), the baseline walked into the drop and
    // it was never alerted; one feature beyond its own stay limit now keeps the window out.
    const profiles = fleetProfiles(23, 12, [1, 3]);
    const quiet = [...profiles].sort((a, b) => a.ratePerSecond - b.ratePerSecond)[0]!;
    const fault = {
      kind: 'rate-drop' as const,
      capability: quiet.capability,
      startMs: 140 * 60_000,
      durationMs: 20 * 60_000,
    };
    const quality = faultRunQuality(23, 3 * HOUR, [fault]);
    const outcome = quality.faults[0]!;
    const what = `${quiet.capability} (${quiet.ratePerSecond.toFixed(2)} req/s): ${JSON.stringify(outcome)}`;
    assert.ok(outcome.detected && outcome.rightTarget && outcome.rightFeature, what);
    assert.ok(outcome.coverage >= 0.7, what);
    assert.equal(quality.falseAlerts, 0);
  });

  test('a retry storm and a joint shift (latency ×1.4, payload ×0.7, rate ×0.7), 20 minutes each on the busiest agent: alerted for it, right feature, nothing else', () => {
    const profiles = fleetProfiles(23, 12, [1, 3]);
    const busy = [...profiles].sort((a, b) => b.ratePerSecond - a.ratePerSecond)[0]!;
    const faults = (['retry-storm', 'joint-shift'] as const).map((kind, i) => ({
      kind,
      capability: busy.capability,
      startMs: HOUR + i * 40 * 60_000,
      durationMs: 20 * 60_000,
    }));
    const run = generateFleet({ seed: 23, durationMs: HOUR + 80 * 60_000, faults });
    const result = replayFleet(run.events, 'backlog', { seed: 23, config });
    const quality = evaluate(
      run,
      result.alerts.filter((a) => a.windowStart < run.end),
      config.detect.windowMs,
    );
    for (const outcome of quality.faults) {
      const what = `${outcome.fault.kind} on ${busy.capability} (${busy.ratePerSecond.toFixed(2)} req/s): ${JSON.stringify(outcome)}`;
      assert.ok(outcome.detected && outcome.rightTarget && outcome.rightFeature, what);
    }
    assert.equal(quality.falseAlerts, 0);
  });

  test("one record stamped in 2100 and one in 1970 leave every other agent's windows, scores and late counts unchanged", () => {
    const run = generateFleet({ seed: 23, durationMs: 1.5 * HOUR });
    const victim = run.events.find((e) => e.kind === 'request')!;
    const at = run.events.findIndex(
      (e) => e.timestamp > run.start + HOUR && e.topic === victim.topic && e.partition === victim.partition,
    );
    const future = { ...run.events[at]!, timestamp: Date.UTC(2100, 0, 1), taskId: 'from-2100' };
    const past = { ...run.events[at]!, timestamp: 0, taskId: 'from-1970' };
    const withBad = [...run.events.slice(0, at), future, past, ...run.events.slice(at)];
    const scores = (events: typeof run.events) => {
      const r = replayFleet(events, 'backlog', { seed: 23, config });
      return { r, alerts: r.alerts.map((a) => `${a.agent}@${a.windowStart}`).sort() };
    };
    const clean = scores(run.events);
    const bad = scores(withBad);
    assert.deepEqual(bad.alerts, clean.alerts);
    assert.deepEqual(bad.r.clockSkew, { ahead: 1, behind: 1 }, 'both records are counted');
    assert.equal(bad.r.detector.windowsScored, clean.r.detector.windowsScored);
    assert.equal(bad.r.detector.lateEvents, clean.r.detector.lateEvents);
    assert.equal(bad.r.timeouts.length, clean.r.timeouts.length);
  });
});

describe('gradual drift against the long-term reference', () => {
  // +100 % latency over 2 hours on the quietest of 4 agents: the short-term baseline (30 minutes)
  // follows it, the day-long reference does not.
  const profiles = fleetProfiles(23, 4, [1, 2]);
  const quiet = [...profiles].sort((a, b) => a.ratePerSecond - b.ratePerSecond)[0]!;
  const drift = {
    kind: 'latency-drift' as const,
    capability: quiet.capability,
    startMs: 2 * HOUR,
    durationMs: 2 * HOUR,
  };
  const run = generateFleet({
    seed: 23,
    durationMs: 6 * HOUR,
    capabilities: 4,
    workersPerCapability: [1, 2],
    faults: [drift],
  });

  test('a minor drift alert for that agent naming latency, resolved once latency is back; nothing else alerts', () => {
    const result = replayFleet(run.events, 'backlog', { seed: 23, config });
    const alerts = result.alerts.filter((a) => a.windowStart < run.end);
    const firing = alerts.filter((a) => a.state === 'FIRING');
    const what = JSON.stringify(
      alerts.map((a) => [a.kind, a.state, a.agent, (a.windowStart - run.start) / 60_000, a.features[0]!.name]),
    );
    assert.deepEqual(
      firing.map((a) => [a.kind, a.agent, a.severity, a.features[0]!.name]),
      [['drift', quiet.capability, 'minor', 'latency_p50']],
      what,
    );
    const fired = firing[0]!;
    assert.ok(
      fired.onset >= run.start + drift.startMs && fired.onset < run.start + drift.startMs + drift.durationMs,
      `reported while it drifts: ${what}`,
    );
    assert.ok(
      fired.features[0]!.value > 1.25 * fired.features[0]!.baselineMean,
      'the short-term level is ≥ +25 % on the reference',
    );
    const resolved = alerts.find((a) => a.alertId === fired.alertId && a.state === 'RESOLVED');
    assert.ok(
      resolved !== undefined &&
        resolved.resolution === 'recovered' &&
        resolved.windowStart >= run.start + drift.startMs + drift.durationMs,
      `resolved after the drift ends: ${what}`,
    );
  });

  test('an operator accepts the drift: it resolves as accepted by that key, and the reference starts over', () => {
    const detector = new Detector(config.detect);
    const correlator = new Correlator(config.correlate);
    const events = [...run.events].sort((a, b) => a.timestamp - b.timestamp);
    let fired: AnomalyAlert | undefined;
    for (let i = 0; i < events.length && fired === undefined; i += 500) {
      const batch = events.slice(i, i + 500);
      const now = batch[batch.length - 1]!.timestamp;
      fired = detector
        .process(batch, correlator.process(batch, now), now)
        .alerts.find((a) => a.kind === 'drift' && a.state === 'FIRING');
    }
    assert.ok(fired !== undefined, 'the drift was reported');
    const accepted = detector.accept(quiet.capability, 'sre-team');
    assert.ok(typeof accepted !== 'string');
    assert.deepEqual(
      accepted.map((a) => [a.alertId, a.kind, a.state, a.resolution, a.acceptedBy]),
      [[fired.alertId, 'drift', 'RESOLVED', 'accepted', 'sre-team']],
    );
    assert.equal(detector.accept(quiet.capability, 'sre-team'), 'not-firing');
  });
});

describe('a backlog read out of order', () => {
  test('an agent whose first-read record is its latest (an answer read before its requests) still closes every earlier window', () => {
    // The API test in CI read a topic's single answer, stamped after 1,000 s of requests, before the
    // requests: the agent's first window was the answer's, and it never closed one before it.
    const detector = new Detector(config.detect);
    const T0 = Date.parse('2026-01-01T00:00:00Z');
    const base = {
      agent: 'api',
      capability: 'api',
      workflowId: 'w',
      kind: 'request',
      encoding: 'json',
      clockSkew: null,
      answeredBy: null,
      latencyMs: null,
      payloadBytes: 100,
      retries: 0,
      state: null,
    } as const;
    const answer = { ...base, kind: 'result', timestamp: T0 + 1_003_000 } as unknown as AgentEvent;
    const requests = Array.from(
      { length: 1_000 },
      (_, i) => ({ ...base, timestamp: T0 + i * 1_000 }) as unknown as AgentEvent,
    );
    detector.process([answer], [], Number.NEGATIVE_INFINITY);
    detector.process(requests, [], T0 + 1_000_000);
    const result = detector.process([], [], T0 + 1_100_000);
    const agent = detector.snapshot().find((a) => a.agent === 'api')!;
    assert.equal(detector.stats().lateEvents, 0);
    assert.ok(agent.baselineWindows >= 90, `${agent.baselineWindows} windows learned (of about 100)`);
    assert.ok(result.windows.length > 0 || agent.lastWindow !== null);
  });
});

describe('read from a backlog or live', () => {
  test('the same fleet gives the same alerts, no late events, and every timeout in deadline order', () => {
    const seed = 31;
    const profiles = fleetProfiles(seed, 12, [1, 3]);
    const multi = profiles.find((p) => p.workers.length > 1)!;
    const faults = [
      { kind: 'latency-x4' as const, capability: profiles[2]!.capability, startMs: HOUR, durationMs: 20 * 60_000 },
      {
        kind: 'bad-worker' as const,
        capability: multi.capability,
        worker: multi.workers[0]!,
        startMs: 1.2 * HOUR,
        durationMs: 20 * 60_000,
      },
      {
        kind: 'error-rate' as const,
        capability: profiles[5]!.capability,
        startMs: 1.5 * HOUR,
        durationMs: 20 * 60_000,
      },
      {
        kind: 'stuck-worker' as const,
        capability: profiles[7]!.capability,
        startMs: 1.8 * HOUR,
        durationMs: 10 * 60_000,
      },
    ];
    const run = generateFleet({ seed, durationMs: 2.5 * HOUR, faults });
    const read = (mode: 'backlog' | 'live') => {
      const result = replayFleet(run.events, mode, { seed, config });
      return {
        result,
        alerts: result.alerts
          .filter((a) => a.windowStart < run.end)
          .map((a) => `${a.state} ${a.alertId}`)
          .sort(),
      };
    };
    const backlog = read('backlog');
    const live = read('live');
    assert.ok(backlog.alerts.length >= 8, backlog.alerts.join(', '));
    assert.deepEqual(live.alerts, backlog.alerts);
    for (const { result } of [backlog, live]) {
      assert.equal(result.detector.lateEvents, 0);
      assert.ok(result.timeoutsInDeadlineOrder);
      assert.equal(result.timeouts.length, run.expectedTimeouts);
      assert.equal(result.correlator.evictions, 0);
    }
  });
});

describe('workers and operators', () => {
  test('a bad worker among the workers of one capability is alerted as that worker', () => {
    const profiles = fleetProfiles(24, 12, [3, 4]);
    const busiest = [...profiles].sort((a, b) => b.ratePerSecond - a.ratePerSecond)[0]!;
    const worker = busiest.workers[1]!;
    const run = generateFleet({
      seed: 24,
      durationMs: 2 * HOUR,
      workersPerCapability: [3, 4],
      faults: [{ kind: 'bad-worker', capability: busiest.capability, worker, startMs: HOUR, durationMs: 20 * 60_000 }],
    });
    const result = replayFleet(run.events, 'backlog', { seed: 24, config });
    const firing = result.alerts.filter((a) => a.state === 'FIRING' && a.windowStart < run.end);
    const asWorker = firing.filter((a) => a.scope === 'worker');
    assert.deepEqual(
      asWorker.map((a) => [a.agent, a.capability]),
      [[worker, busiest.capability]],
      `worker alerts: ${JSON.stringify(firing.map((a) => a.agent))}`,
    );
    assert.ok(asWorker[0]!.windowStart >= run.start + HOUR);
    assert.match(asWorker[0]!.features[0]!.name, /^(latency_p50|latency_p95|failure_rate)$/);
  });

  test('an operator accepts a firing incident: RESOLVED as accepted by that key, and the baseline starts over', () => {
    const profiles = fleetProfiles(25, 12, [1, 1]);
    const target = profiles[0]!;
    const run = generateFleet({
      seed: 25,
      durationMs: 2 * HOUR,
      workersPerCapability: [1, 1],
      faults: [{ kind: 'latency-x4', capability: target.capability, startMs: HOUR, durationMs: HOUR }],
    });
    const detector = new Detector(config.detect);
    const alerts: AnomalyAlert[] = [];
    const events = run.events.map((e) => ({ ...e, latencyMs: null }));
    const correlator = new Correlator(config.correlate);
    for (let i = 0; i < events.length; i += 500) {
      const batch = events.slice(i, i + 500);
      const now = batch[batch.length - 1]!.timestamp;
      alerts.push(...detector.process(batch, correlator.process(batch, now), now).alerts);
      if (alerts.some((a) => a.agent === target.capability && a.state === 'FIRING')) break;
    }
    assert.equal(detector.accept('nobody', 'sre-team'), 'unknown');
    const accepted = detector.accept(target.capability, 'sre-team');
    assert.ok(typeof accepted !== 'string', 'the incident was firing');
    assert.deepEqual(
      accepted.map((a) => [a.kind, a.state, a.resolution, a.acceptedBy]),
      [['incident', 'RESOLVED', 'accepted', 'sre-team']],
    );
    const agent = detector.snapshot().find((a) => a.agent === target.capability)!;
    assert.deepEqual([agent.firing, agent.baselineWindows], [false, 0], 'no incident, and a baseline learning anew');
    assert.equal(detector.accept(target.capability, 'sre-team'), 'not-firing');
  });
});

describe('IncidentTracker', () => {
  const score = (value: number): WindowScore => ({
    score: value,
    threshold: 10,
    stayThreshold: 5,
    anomaly: value > 10,
    severe: false,
    elevated: value > 5,
    pValue: 0.5,
    contributions: [value],
  });
  const options = { fireAfter: 2, resolveAfter: 2, learnDelay: 3, acceptAfterWindows: 50, smallSamples: false };

  test('fires after 2 anomalous windows, stays open while windows hover between the thresholds, resolves after 2 below', () => {
    const tracker = new IncidentTracker<number>('a', options, () => undefined);
    const states = [12, 12, 7, 8, 6, 7, 3, 4].map(
      (v, i) => tracker.update(score(v), i, i * 10).transition?.state ?? '-',
    );
    assert.deepEqual(states, ['-', 'FIRING', '-', '-', '-', '-', '-', 'RESOLVED']);
  });

  test('learns a window only after 3 more proved normal; an elevated window discards those waiting', () => {
    const learned: number[] = [];
    const tracker = new IncidentTracker<number>('a', options, (item) => learned.push(item));
    [1, 1, 1, 1, 1, 7, 1, 1, 1, 1].forEach((v, i) => tracker.update(score(v), i, i * 10));
    assert.deepEqual(learned, [0, 1, 6], 'windows 2–4 waited when window 5 was elevated, and were dropped');
  });

  test('never stuck: an incident that never ends is accepted after acceptAfterWindows, and the baseline restarts', () => {
    const tracker = new IncidentTracker<number>('a', { ...options, acceptAfterWindows: 20 }, () => undefined);
    const steps = Array.from({ length: 30 }, (_, i) => tracker.update(score(50), i, i * 10));
    const resolved = steps.findIndex((s) => s.transition?.state === 'RESOLVED');
    assert.ok(resolved > 0 && resolved <= 21, `resolved at window ${resolved}`);
    assert.equal(steps[resolved]!.transition!.resolution, 'accepted');
    assert.equal(steps[resolved]!.restart, true);
  });
});
