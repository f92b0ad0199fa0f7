// Sustained anomalies through `agentwatch score` (the same IncidentTracker and WindowScorer as the
// live detector): rows of d correlated features, one row per minute of windows, with step changes
// held for 30 rows. Per seed: 300 normal rows (the first DETECT_WARMUP_WINDOWS fit the baseline),
// then eight steps of 30 rows, each followed by 120 normal rows. A step moves the mean by a
// Mahalanobis distance Δ in a random direction spanning 1–3 features.
// Measured: the share of step rows during which an incident is FIRING (the goal: ≥ 90 %),
// steps never alerted, and incidents raised in normal rows (false alerts), over seeds.
//   node dist/bench/detection/sustained.js [--seeds N] [--d D]

import { PassThrough, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { runScore } from '../../src/cli/score-command.js';
import { loadConfig } from '../../src/config/index.js';
import { seededRandom } from '../../src/sim/index.js';

const { values } = parseArgs({
  options: { seeds: { type: 'string', default: '5' }, d: { type: 'string', default: '6' } },
});
const seeds = Number(values.seeds);
const d = Number(values.d);
const STEP_ROWS = 30;
const GAP_ROWS = 120;
const LEAD_ROWS = 300;
const DELTAS = [4, 5, 6, 8];
const STEPS = 8;

interface Step {
  from: number;
  to: number;
  delta: number;
}

/** Rows of a seed: correlated normal noise (a random loading matrix) plus the steps' mean shifts. */
function generate(seed: number): { rows: number[][]; steps: Step[] } {
  const random = seededRandom(seed);
  // x = L·e with a random lower-triangular L: correlated features of different scales.
  const L = Array.from({ length: d }, (_, i) =>
    Array.from({ length: d }, (_, j) => (j < i ? 0.6 * random.normal() : j === i ? 0.5 + random.uniform() * 2 : 0)),
  );
  const steps: Step[] = [];
  const total = LEAD_ROWS + STEPS * (STEP_ROWS + GAP_ROWS);
  for (let k = 0; k < STEPS; k += 1) {
    const from = LEAD_ROWS + k * (STEP_ROWS + GAP_ROWS);
    steps.push({ from, to: from + STEP_ROWS, delta: DELTAS[k % DELTAS.length]! });
  }
  const shifts = steps.map((step) => {
    // A direction in the whitened space over 1–3 features, scaled to Δ, then mapped through L.
    const features = 1 + Math.floor(random.uniform() * 3);
    const e = new Array<number>(d).fill(0);
    const chosen = new Set<number>();
    while (chosen.size < features) chosen.add(Math.floor(random.uniform() * d));
    for (const i of chosen) e[i] = random.uniform() < 0.5 ? -1 : 1;
    const norm = Math.sqrt(features);
    return L.map((row) => row.reduce((sum, l, j) => sum + (l * e[j]! * step.delta) / norm, 0));
  });
  const rows: number[][] = [];
  for (let t = 0; t < total; t += 1) {
    const e = Array.from({ length: d }, () => random.normal());
    const x = L.map((row) => 100 + row.reduce((sum, l, j) => sum + l * e[j]!, 0));
    steps.forEach((step, k) => {
      if (t >= step.from && t < step.to) for (let i = 0; i < d; i += 1) x[i]! += shifts[k]![i]!;
    });
    rows.push(x);
  }
  return { rows, steps };
}

async function score(rows: number[][]): Promise<Array<{ firing: boolean; transition: string | null }>> {
  const input = new PassThrough();
  const lines: string[] = [];
  let pending = '';
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      lines.push(...parts);
      callback();
    },
  });
  input.end(
    [
      Array.from({ length: d }, (_, i) => `f${i}`).join(','),
      ...rows.map((r) => r.map((v) => v.toFixed(4)).join(',')),
    ].join('\n') + '\n',
  );
  await runScore(
    { file: undefined, columns: undefined, warmup: undefined, format: 'csv' },
    loadConfig(process.env),
    input,
    output,
  );
  return lines.map((line) => JSON.parse(line) as { firing: boolean; transition: string | null });
}

let stepRows = 0;
let firingStepRows = 0;
let missed = 0;
let falseAlerts = 0;
let normalRows = 0;
const perDelta = new Map<number, { rows: number; firing: number; shares: number[] }>();
for (let seed = 1; seed <= seeds; seed += 1) {
  const { rows, steps } = generate(seed);
  const out = await score(rows);
  // A step and the 5 rows after it (its recovery) are not normal rows.
  const inStep = (t: number) => steps.find((s) => t >= s.from && t < s.to + 5);
  for (const step of steps) {
    let firing = 0;
    for (let t = step.from; t < step.to; t += 1) if (out[t]!.firing) firing += 1;
    stepRows += STEP_ROWS;
    firingStepRows += firing;
    if (firing === 0) missed += 1;
    const entry = perDelta.get(step.delta) ?? { rows: 0, firing: 0, shares: [] };
    entry.rows += STEP_ROWS;
    entry.firing += firing;
    entry.shares.push(firing / STEP_ROWS);
    perDelta.set(step.delta, entry);
  }
  out.forEach((row, t) => {
    if (inStep(t) !== undefined) return;
    normalRows += 1;
    if (row.transition === 'FIRING') falseAlerts += 1;
  });
}
console.log(
  `sustained steps through agentwatch score: ${seeds} seeds, d = ${d}, ${STEPS * seeds} steps of ${STEP_ROWS} rows`,
);
console.log('| step Δ (Mahalanobis) | rows FIRING during the step | lowest share of one step |');
console.log('| --- | --- | --- |');
for (const [delta, e] of [...perDelta].sort((a, b) => a[0] - b[0]))
  console.log(
    `| ${delta} | ${((100 * e.firing) / e.rows).toFixed(1)} % | ${(100 * Math.min(...e.shares)).toFixed(1)} % |`,
  );
console.log(
  `all steps: ${((100 * firingStepRows) / stepRows).toFixed(1)} % of step rows FIRING; steps never alerted: ${missed}; false alerts: ${falseAlerts} in ${normalRows} normal rows`,
);
