// Detection quality on a realistic, heterogeneous fleet (test/fixtures/realistic-fleet.ts) replayed
// through the event clock, correlator and detector (test/fixtures/fleet-replay.ts), over seeds:
// - no-fault runs (12 agents × 8 h = 96 agent-hours per seed), read from a backlog and live: false
//   alerts per 100 agent-hours and the share of clean time agents spend FIRING;
// - fault runs: every fault kind once per seed, each on a random agent, 20 minutes: detected for the
//   right target, right top feature, delay, coverage while it lasts, and how soon it resolves;
// - drift runs: latency +100 % over 2 hours on a random agent from hour 3: reported (a drift alert
//   against the long-term reference, or an incident) for it, naming latency, how far into the drift.
//   node dist/bench/detection/detection.js [--seeds N] [--hours H] [--mode backlog|live|both]

import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/index.js';
import {
  FAULT_KINDS,
  fleetProfiles,
  generateFleet,
  randomFaultPlan,
  type FaultKind,
  seededRandom,
} from '../../src/sim/index.js';
import { replayFleet, type ReadMode } from './fleet-replay.js';
import { evaluate, type FaultOutcome } from './evaluate.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '5' },
    hours: { type: 'string', default: '8' },
    mode: { type: 'string', default: 'both' },
    first: { type: 'string', default: '1' },
  },
});
const seeds = Number(values.seeds);
const firstSeed = Number(values.first);
const hours = Number(values.hours);
const modes: ReadMode[] = values.mode === 'both' ? ['backlog', 'live'] : [values.mode as ReadMode];
// Detection options come from the environment (DETECT_*), so that variants can be compared.
const config = loadConfig(process.env);
const W = config.detect.windowMs;
const KINDS: FaultKind[] = FAULT_KINDS.filter((k) => k !== 'latency-drift');

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]!;
};
const afterEffect = (hit: FaultOutcome[]) => {
  const xs = hit.map((o) => o.resolvedWindowsAfterEffect).filter((x): x is number => x !== null);
  return `${median(xs)}, ${xs.length === 0 ? 'NaN' : Math.max(...xs)}${xs.length < hit.length ? ` (${hit.length - xs.length} never)` : ''}`;
};

console.log(
  `detection bench: ${seeds} seeds from ${firstSeed}, ${hours} h × 12 agents per run, modes ${modes.join(', ')}`,
);
for (const mode of modes) {
  let agentHours = 0;
  let falseAlerts = 0;
  let maxFiring = 0;
  let late = 0;
  let events = 0;
  const outcomes: FaultOutcome[] = [];
  let spuriousTimeouts = 0;
  let expectedTimeouts = 0;
  let outOfOrder = 0;
  let cleanDrifts = 0;
  const drifts: Array<{
    seed: number;
    agent: string;
    reported: string | null;
    minutes: number | null;
    feature: string | null;
    others: number;
  }> = [];
  for (let seed = firstSeed; seed < firstSeed + seeds; seed += 1) {
    const clean = generateFleet({ seed, durationMs: hours * 3_600_000 });
    const r = replayFleet(clean.events, mode, { seed, config });
    // The generated traffic stops at run.end: what the detector says of the silence after it is not scored.
    r.alerts = r.alerts.filter((a) => a.windowStart < clean.end);
    const q = evaluate(clean, r.alerts, W);
    agentHours += q.agentHours;
    falseAlerts += q.falseAlerts;
    maxFiring = Math.max(maxFiring, q.maxFiringShare);
    late += r.detector.lateEvents;
    events += clean.events.length;
    expectedTimeouts += clean.expectedTimeouts;
    spuriousTimeouts += Math.max(0, r.timeouts.length - clean.expectedTimeouts);
    if (!r.timeoutsInDeadlineOrder) outOfOrder += 1;
    cleanDrifts += r.alerts.filter((a) => a.kind === 'drift' && a.state === 'FIRING').length;
    for (const a of r.alerts.filter((x) => x.state === 'FIRING'))
      console.log(
        `  [${mode} seed ${seed} clean] ${a.agent} ${new Date(a.windowStart).toISOString().slice(11, 19)} top ${a.features[0]!.name} ${a.features
          .slice(0, 2)
          .map(
            (f) => `${f.name}=${f.value.toPrecision(3)} (base ${f.baselineMean.toPrecision(3)}, z ${f.z.toFixed(1)})`,
          )
          .join(', ')}`,
      );

    const profiles = fleetProfiles(seed, 12, [1, 3]);
    const faultMs = 20 * 60_000;
    const plan = randomFaultPlan(seed, profiles, KINDS, {
      durationMs: hours * 3_600_000,
      faultMs: [faultMs, faultMs],
      firstAtMs: 45 * 60_000,
      gapMs: 20 * 60_000,
    });
    const faulty = generateFleet({ seed, durationMs: hours * 3_600_000, faults: plan });
    const fr = replayFleet(faulty.events, mode, { seed, config });
    const fq = evaluate(
      faulty,
      fr.alerts.filter((a) => a.windowStart < faulty.end),
      W,
    );
    outcomes.push(...fq.faults);

    const target = profiles[Math.floor(seededRandom(seed * 31 + 7).uniform() * profiles.length)]!;
    const driftStart = 3 * 3_600_000;
    const drifting = generateFleet({
      seed,
      durationMs: hours * 3_600_000,
      faults: [
        { kind: 'latency-drift', capability: target.capability, startMs: driftStart, durationMs: 2 * 3_600_000 },
      ],
    });
    const dr = replayFleet(drifting.events, mode, { seed, config });
    const firing = dr.alerts.filter((a) => a.state === 'FIRING' && a.windowStart < drifting.end);
    const first = firing.find((a) => a.capability === target.capability && a.onset >= drifting.start + driftStart);
    drifts.push({
      seed,
      agent: target.capability,
      reported: first === undefined ? null : first.kind,
      minutes: first === undefined ? null : (first.windowStart - drifting.start - driftStart) / 60_000,
      feature: first?.features[0]?.name ?? null,
      others: firing.filter((a) => a.capability !== target.capability).length,
    });
  }
  console.log(`\n## ${mode}: no-fault runs`);
  console.log(
    `false alerts: ${falseAlerts} in ${agentHours.toFixed(0)} agent-hours = ${((100 * falseAlerts) / agentHours).toFixed(2)} per 100 agent-hours; most clean time FIRING of any agent: ${pct(maxFiring)}`,
  );
  console.log(
    `late events: ${late} of ${events} (${pct(late / events)}); timeouts beyond the real ones: ${spuriousTimeouts} vs ${expectedTimeouts} real; runs with timeouts out of deadline order: ${outOfOrder}`,
  );
  console.log(`\n## ${mode}: fault runs (each fault 20 min on one agent)`);
  console.log(
    '| fault | detected, right target | right top feature | median delay (windows) | median coverage (lowest) | median resolved after end (windows) | resolved after its last effect (windows): median, most |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const kind of KINDS) {
    const of = outcomes.filter((o) => o.fault.kind === kind);
    const hit = of.filter((o) => o.detected && o.rightTarget);
    console.log(
      `| ${kind} | ${hit.length}/${of.length} | ${of.filter((o) => o.rightFeature).length}/${of.length} | ${median(hit.map((o) => o.delayWindows!))} | ${pct(median(of.map((o) => o.coverage)))} (${pct(Math.min(...of.map((o) => o.coverage)))}) | ${median(hit.filter((o) => o.resolvedWindowsAfterEnd !== null).map((o) => o.resolvedWindowsAfterEnd!))} | ${afterEffect(hit)} |`,
    );
  }
  console.log(`\n## ${mode}: gradual drift (latency +100 % over 2 h from hour 3)`);
  console.log(`drift alerts in the no-fault runs: ${cleanDrifts}`);
  console.log(
    '| seed | agent | reported as | minutes into the drift (latency then) | top feature | alerts on other agents |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const d of drifts)
    console.log(
      `| ${d.seed} | ${d.agent} | ${d.reported ?? 'not reported'} | ${d.minutes === null ? '–' : `${d.minutes.toFixed(0)} (×${(1 + d.minutes / 120).toFixed(2)})`} | ${d.feature ?? '–'} | ${d.others} |`,
    );
  const hits = outcomes.filter((o) => o.detected && o.rightTarget);
  console.log(
    `all faults: ${hits.length}/${outcomes.length} detected; delays ${hits
      .map((o) => o.delayWindows)
      .sort((a, b) => a! - b!)
      .join(
        ' ',
      )}; median delay ${median(hits.map((o) => o.delayWindows!))} windows; median coverage ${pct(median(outcomes.map((o) => o.coverage)))}`,
  );
  for (const o of outcomes.filter((x) => !(x.detected && x.rightTarget && x.rightFeature)))
    console.log(
      `  missed or wrong: ${o.fault.kind} on ${o.fault.worker ?? o.fault.capability}: detected ${o.detected}, target ${o.rightTarget}, top ${o.topFeature}`,
    );
}
