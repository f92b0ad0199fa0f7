// Part 2: the cost of detection. (a) Windows scored per second by WindowScorer.assess (the one
// scoring path of the live detector and `agentwatch score`) at d = 4, 8, 16, on warm baselines:
// "score + learn" is the live case (a normal window updates the baseline, so the next score
// refactors Σ), "score only" scores against a fixed baseline. (b) The per-event cost of window
// upkeep: Detector.process over generated fleet traffic (20 agents, 2 h of event time).
// Prints {scorer: [...], upkeep: {...}} as JSON.
//   node dist/bench/scoring/scoring.js

import { loadConfig } from '../../src/config/index.js';
import { Detector } from '../../src/detect/detector.js';
import { WindowScorer } from '../../src/detect/window-scorer.js';
import { correlatedInOrder } from '../detection/fleet-replay.js';
import { generateFleet, seededRandom } from '../../src/sim/index.js';

export interface ScorerFigure {
  d: number;
  mode: 'score + learn' | 'score only';
  windowsPerSecond: number;
  nsPerWindow: number;
}

const SCORERS = 64; // agents, each with its own baseline, scored round-robin (a detector scores many agents)
const VECTORS = 4_096;

function scorerFigure(d: number, learn: boolean): ScorerFigure {
  const random = seededRandom(d);
  const gaussian = () => random.normal();
  const vectors = Array.from({ length: VECTORS }, () =>
    Float64Array.from({ length: d }, (_, i) => 1 + 0.1 * i + 0.2 * gaussian()),
  );
  const options = {
    warmupWindows: 30,
    baseline: { memoryWindows: 360, sigmaFloor: new Float64Array(d).fill(0.01), shrinkage: 10 },
    threshold: {
      p: 0.999,
      stayP: 0.99,
      atOnceP: 0.999999,
      mode: 'chi2' as const,
      empiricalWindow: 1000,
      empiricalMinimum: 100,
    },
  };
  const scorers = Array.from({ length: SCORERS }, () => new WindowScorer(d, options));
  for (const scorer of scorers) for (let i = 0; i < 60; i += 1) scorer.assess(vectors[(i * 31) % VECTORS]!, true);
  let sink = 0;
  const run = (windows: number) => {
    const started = performance.now();
    for (let i = 0; i < windows; i += 1) {
      const result = scorers[i % SCORERS]!.assess(vectors[i % VECTORS]!, learn);
      sink += result.score ?? 0;
    }
    return (performance.now() - started) / 1000;
  };
  run(200_000); // warm up the JIT
  let windows = 200_000;
  let seconds = run(windows);
  while (seconds < 1) {
    windows *= 2;
    seconds = run(windows);
  }
  if (!Number.isFinite(sink)) throw new Error('scores were not finite');
  return {
    d,
    mode: learn ? 'score + learn' : 'score only',
    windowsPerSecond: windows / seconds,
    nsPerWindow: (seconds * 1e9) / windows,
  };
}

function upkeepFigure(): { events: number; windowsScored: number; nsPerEvent: number } {
  const run = generateFleet({ seed: 1, capabilities: 20, durationMs: 7_200_000 });
  const batches = correlatedInOrder(run.events, 10_000);
  const events = batches.reduce((n, b) => n + b.events.length + b.timeouts.length, 0);
  const once = () => {
    const detector = new Detector(loadConfig({}).detect);
    const started = performance.now();
    for (const b of batches) detector.process(b.events, b.timeouts, b.watermark);
    return { seconds: (performance.now() - started) / 1000, windowsScored: detector.stats().windowsScored };
  };
  once();
  const best = [once(), once(), once()].sort((a, b) => a.seconds - b.seconds)[0]!;
  return { events, windowsScored: best.windowsScored, nsPerEvent: (best.seconds * 1e9) / events };
}

const scorer = [4, 8, 16].flatMap((d) => [scorerFigure(d, true), scorerFigure(d, false)]);
console.log(JSON.stringify({ scorer, upkeep: upkeepFigure() }));
