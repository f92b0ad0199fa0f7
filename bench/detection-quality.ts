// Detection quality on generated fleet traffic (event time, no waiting): false alerts in a 2-hour
// normal run of 20 agents, and, per injected fault, whether the alert names the right agent and
// feature and how many windows after the onset it fires. Prints a table per configuration.
//   node dist/bench/detection-quality.js [seeds]

import { loadConfig } from '../src/config/index.js';
import { Detector, type AnomalyAlert } from '../src/detect/detector.js';
import { fleetTraffic, type FaultKind } from '../test/fixtures/fleet-traffic.js';

const seeds = Number(process.argv[2] ?? 5);
const WINDOW = 10_000;
const configs: Record<string, Record<string, string>> = {
  'fire after 1': { DETECT_FIRE_AFTER: '1' },
  'fire after 2 (default)': { DETECT_FIRE_AFTER: '2' },
};
const faults: Array<[FaultKind, string]> = [['latency-spike', 'latency'], ['retry-storm', 'retries_per_task'], ['payload-bloat', 'payload'], ['joint-shift', 'latency|request_rate']];

for (const [label, env] of Object.entries(configs)) {
  let falseAlerts = 0;
  let windows = 0;
  const detection: string[] = [];
  for (let seed = 1; seed <= seeds; seed += 1) {
    const detector = new Detector(loadConfig(env).detect);
    for (const b of fleetTraffic({ agents: 20, windowMs: WINDOW, durationMs: 7_200_000, seed })) {
      falseAlerts += detector.process(b.events, b.timeouts, b.watermark).alerts.filter((a) => a.state === 'FIRING').length;
    }
    windows += detector.stats().windowsScored;
    for (const [kind, feature] of faults) {
      const onset = 40 * 60_000;
      const d = new Detector(loadConfig(env).detect);
      const alerts: AnomalyAlert[] = [];
      for (const b of fleetTraffic({ agents: 20, windowMs: WINDOW, durationMs: onset + 10 * WINDOW, seed: seed + 100, faults: [{ agent: 'agent-07', kind, from: onset, durationMs: 600_000 }] })) {
        alerts.push(...d.process(b.events, b.timeouts, b.watermark).alerts.filter((a) => a.state === 'FIRING'));
      }
      const start = 1_700_000_000_000 - (1_700_000_000_000 % WINDOW) + onset;
      const hit = alerts.find((a) => a.agent === 'agent-07' && a.windowStart >= start);
      const others = alerts.filter((a) => a !== hit).length;
      detection.push(`${kind}: ${hit ? `window +${(hit.windowStart - start) / WINDOW}, top ${hit.features[0]!.name}${new RegExp(feature).test(hit.features[0]!.name) ? '' : ' (WRONG)'}` : 'MISSED'}${others ? `, ${others} other alerts` : ''}`);
    }
  }
  console.log(`${label}: ${falseAlerts} false alerts in ${windows} normal windows (${seeds} × 2 h × 20 agents)`);
  for (const line of detection) console.log(`  ${line}`);
}
