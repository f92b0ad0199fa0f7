// Detection on generated traffic of 20 agents in event time (no waiting on the wall clock), with the
// default detector configuration: a 2-hour normal run with a slow load change raises no alert, and
// each injected fault (latency spike, retry storm, payload bloat, joint shift) in 1 agent of 20 is
// alerted for that agent, with the right feature as top contributor, within 2 windows of its onset.
// bench/detection/ measures detection on a realistic, heterogeneous fleet over seeds (docs/detection.md).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { Detector, type AnomalyAlert } from '../../../src/detect/detector.js';
import { fleetTraffic, type FaultKind } from '../../fixtures/fleet-traffic.js';

const WINDOW = 10_000;
const START = 1_700_000_000_000 - (1_700_000_000_000 % WINDOW);

function run(options: Parameters<typeof fleetTraffic>[0]): { alerts: AnomalyAlert[]; detector: Detector } {
  const detector = new Detector(loadConfig({}).detect);
  const alerts: AnomalyAlert[] = [];
  for (const batch of fleetTraffic(options))
    alerts.push(...detector.process(batch.events, batch.timeouts, batch.watermark).alerts);
  return { alerts, detector };
}

describe('detection on generated fleet traffic (defaults)', () => {
  test('a 2-hour normal run of 20 agents with a slow load change raises no alert', () => {
    const { alerts, detector } = run({ agents: 20, windowMs: WINDOW, durationMs: 2 * 3_600_000, seed: 1 });
    const stats = detector.stats();
    assert.equal(stats.agents, 20);
    assert.ok(
      stats.windowsScored >= 20 * (715 - 30),
      `${stats.windowsScored} windows scored after 30 windows of warm-up each`,
    );
    assert.equal(stats.lateEvents, 0);
    assert.deepEqual(
      alerts.map((a) => `${a.agent}@${a.windowStart}`),
      [],
    );
  });

  const cases: Array<[FaultKind, RegExp]> = [
    ['latency-spike', /^latency_p(50|95)$/],
    ['retry-storm', /^retries_per_task$/],
    ['payload-bloat', /^payload_bytes_(mean|p95)$/],
    ['joint-shift', /^(request_rate|latency_p50|latency_p95)$/],
  ];
  for (const [kind, feature] of cases) {
    test(`${kind} in 1 agent of 20: alerted for that agent, top feature right, within 2 windows`, () => {
      const onset = 40 * 60_000; // after the warm-up
      const { alerts } = run({
        agents: 20,
        windowMs: WINDOW,
        durationMs: onset + 12 * WINDOW,
        seed: 101,
        faults: [{ agent: 'agent-07', kind, from: onset, durationMs: 600_000 }],
      });
      const firing = alerts.filter((a) => a.state === 'FIRING');
      assert.deepEqual(
        firing.map((a) => a.agent),
        ['agent-07'],
        'one alert, for the faulty agent only',
      );
      const alert = firing[0]!;
      const windowsAfterOnset = (alert.windowStart - (START + onset)) / WINDOW;
      assert.ok(windowsAfterOnset >= 0 && windowsAfterOnset <= 2, `alert ${windowsAfterOnset} windows after the onset`);
      assert.match(alert.features[0]!.name, feature, `top contributor ${alert.features[0]!.name}`);
      assert.ok(alert.score > alert.threshold);
      assert.equal(alert.alertId, `agent-07@${alert.onset}`);
      const sum = alert.features.reduce((s, f) => s + f.contribution, 0);
      assert.ok(Math.abs(sum - alert.score) < 1e-6 * alert.score, 'the contributions sum to the score');
    });
  }
});
