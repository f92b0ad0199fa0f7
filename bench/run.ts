// `npm run bench`: agentwatch's performance against its goals, measured in one run on the local
// stack (scripts/bench.sh starts it). Parts: e2e, scoring, memory, queries (all by default), and
// workers and detection when named.
//   node dist/bench/run.js [e2e] [scoring] [memory] [queries] [workers] [detection] [--messages N] [--rows N]

import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { stackConfig } from './local-stack.js';
import { runChild } from './child.js';
import { endToEnd, type ReaderResult } from './e2e/end-to-end.js';
import { workerScaling } from './e2e/worker-scaling.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    messages: { type: 'string', default: '1000000' },
    rows: { type: 'string', default: '10000000' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`Usage: npm run bench -- [e2e] [scoring] [memory] [queries] [workers] [detection] [--messages N] [--rows N]

Measures agentwatch against its performance goals on the local stack (scripts/bench.sh starts it):
  e2e      N A2A messages (default 1,000,000) over 12 partitions: kcat, bare kafkajs and @platformatic/kafka consumers
           and agentwatch (audited, scored, committed), with a stage profile
  scoring  windows scored per second at d = 4, 8, 16; per-event window upkeep
  memory   RSS with 10,000 agents and 100,000 tasks in flight, at 25/50/75/100 % of the run
  queries  workflow timeline and filtered search p50/p99 over N audit rows (default 10,000,000)
  workers  agentwatch on N A2A messages with INGEST_WORKERS = 0, 1, 2 and 4, two alternating rounds:
           msgs/s, main-thread and process CPU per message
  detection  detection quality on a generated heterogeneous fleet, 5 seeds, from a backlog and live
           (no Kafka needed; docs/detection.md)
With no part named, the first four run. See bench/README.md for the method.`);
  process.exit(0);
}
const parts = positionals.length > 0 ? positionals : ['e2e', 'scoring', 'memory', 'queries'];
const unknown = parts.filter((p) => !['e2e', 'scoring', 'memory', 'queries', 'workers', 'detection'].includes(p));
if (unknown.length > 0) {
  console.error(
    `unknown part ${unknown.join(', ')}; the parts are e2e, scoring, memory, queries, workers, detection (see --help)`,
  );
  process.exit(2);
}
const messages = positiveInt('--messages', values.messages!);
if (messages % 2 !== 0) {
  console.error(`--messages must be even (each task is a request and its result), not ${messages}`);
  process.exit(2);
}
const rows = positiveInt('--rows', values.rows!);

const goals: Array<{ goal: string; measured: string; met: boolean }> = [];
console.log(`agentwatch benchmarks, ${new Date().toISOString()}`);
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`,
);

if (parts.includes('e2e')) {
  const config = stackConfig();
  const r = await endToEnd(config, messages);
  const rate = (x: { records: number; seconds: number }) => x.records / x.seconds;
  console.log(
    `## End to end: ${r.messages.toLocaleString('en')} A2A messages (${r.averageBytes.toFixed(0)} B on average) in 12 partitions`,
  );
  console.log(`preload (kafkajs producer, acks=1): ${r.preload.seconds.toFixed(1)} s`);
  const busy = (x: ReaderResult) => (x.cpu === undefined ? '-' : `${(100 * x.cpu.machineBusy).toFixed(0)} %`);
  const perMessage = (seconds: number | null | undefined) =>
    seconds == null ? '-' : ((1e6 * seconds) / r.messages).toFixed(1);
  const row = (label: string, x: ReaderResult, process: number | null | undefined, engine = '-') => [
    label,
    x.seconds.toFixed(1),
    x.readSeconds === undefined ? '-' : x.readSeconds.toFixed(1),
    fmt(rate(x)),
    ratio(rate(x) / rate(r.kafkajs)),
    perMessage(process),
    engine,
    perMessage(x.cpu?.brokerSeconds),
    busy(x),
  ];
  table(
    [
      'reader',
      'seconds',
      'from first record',
      'msgs/s',
      'vs bare kafkajs',
      'process CPU µs/msg',
      'engine process CPU µs/msg',
      'broker CPU µs/msg',
      'machine busy',
    ],
    [
      row('kcat (librdkafka)', r.kcat, undefined),
      row('bare kafkajs eachBatch', r.kafkajs, r.kafkajs.cpuSeconds),
      row('bare @platformatic/kafka stream', r.platformatic, r.platformatic.cpuSeconds),
      row(
        'agentwatch (audited, scored, committed)',
        r.agentwatch,
        r.agentwatch.cpuSeconds,
        perMessage(r.agentwatch.engineCpuSeconds),
      ),
    ],
  );
  const a = r.agentwatch;
  if (a.mainThreadCpuSeconds !== null)
    console.log(
      `agentwatch main thread: ${perMessage(a.mainThreadCpuSeconds)} µs of CPU per message (from /proc, no profiler)`,
    );
  console.log(
    `agentwatch checks: ${a.auditRows.toLocaleString('en')} audit rows, ${a.stats.correlator.answered.toLocaleString('en')} tasks answered (latency known), ${a.stats.detector.windowsScored} windows scored, ${a.stats.detector.lateEvents} late events`,
  );
  console.log('\nagentwatch per stage, summed over batches (wall time; stages of concurrent batches overlap):');
  table(
    ['stage', 'seconds', 'batches'],
    Object.entries(a.stages).map(([stage, s]) => [stage, s.seconds.toFixed(1), String(s.count)]),
  );
  console.log(
    `\nagentwatch main thread by stage (CPU profile of a second run: ${fmt(rate(r.profiled))} msgs/s under the profiler; ${r.profiled.cpuSeconds!.toFixed(1)} s of process CPU):`,
  );
  const total = Object.values(r.mainThread).reduce((x, y) => x + y, 0);
  table(
    ['stage', 'seconds', 'share'],
    Object.entries(r.mainThread)
      .sort((x, y) => y[1] - x[1])
      .map(([stage, s]) => [stage, s.toFixed(1), `${((100 * s) / total).toFixed(0)} %`]),
  );
  const mainThreadMicros = (1e6 * (total - (r.mainThread.idle ?? 0))) / r.messages;
  console.log(`main thread, idle left out: ${mainThreadMicros.toFixed(1)} µs of CPU per message (under the profiler)`);
  const mainThreadUnprofiled = a.mainThreadCpuSeconds === null ? null : (1e6 * a.mainThreadCpuSeconds) / r.messages;
  goals.push({
    goal: 'main thread ≤ 12 µs of CPU per message',
    measured:
      mainThreadUnprofiled === null
        ? `${mainThreadMicros.toFixed(1)} µs (under the profiler)`
        : `${mainThreadUnprofiled.toFixed(1)} µs (${mainThreadMicros.toFixed(1)} under the profiler)`,
    met: (mainThreadUnprofiled ?? mainThreadMicros) <= 12,
  });
  goals.push({
    goal: 'end to end ≥ 0.25 × bare kafkajs, with the embedded store',
    measured: ratio(rate(a) / rate(r.kafkajs)),
    met: rate(a) / rate(r.kafkajs) >= 0.25,
  });
  console.log();
}

if (parts.includes('workers')) {
  const runs = await workerScaling(stackConfig(), messages);
  const micros = (x: number | null) => (x === null ? '-' : x.toFixed(1));
  console.log(
    `## Ingest workers: ${messages.toLocaleString('en')} A2A messages, agentwatch with INGEST_WORKERS = 0, 1, 2, 4 (${cpus().length} cores)`,
  );
  table(
    [
      'workers',
      'round',
      'msgs/s (from first record)',
      'main thread CPU µs/msg',
      'process CPU µs/msg',
      'engine process CPU µs/msg',
      'machine busy',
    ],
    runs.map((r) => [
      String(r.workers),
      String(r.round),
      fmt(r.msgsPerSecond),
      micros(r.mainThreadMicros),
      micros(r.processMicros),
      micros(r.engineMicros),
      `${(100 * r.machineBusy).toFixed(0)} %`,
    ]),
  );
  console.log();
}

if (parts.includes('scoring')) {
  const r = await runChild<{
    scorer: Array<{ d: number; mode: string; windowsPerSecond: number; nsPerWindow: number }>;
    upkeep: { events: number; windowsScored: number; nsPerEvent: number };
  }>('./scoring/scoring.js', []);
  console.log('## Scoring: WindowScorer.assess on warm baselines (64 agents round-robin)');
  table(
    ['d', 'mode', 'windows/s', 'ns/window'],
    r.scorer.map((f) => [String(f.d), f.mode, fmt(f.windowsPerSecond), fmt(f.nsPerWindow)]),
  );
  console.log(
    `window upkeep (Detector.process, 20 agents, 2 h of event time): ${r.upkeep.nsPerEvent.toFixed(0)} ns per event over ${r.upkeep.events.toLocaleString('en')} events and ${r.upkeep.windowsScored.toLocaleString('en')} windows scored`,
  );
  const live = r.scorer.find((f) => f.d === 8 && f.mode === 'score + learn')!;
  goals.push({
    goal: 'scoring ≥ 2,000,000 windows/s at d = 8 (score + learn)',
    measured: fmt(live.windowsPerSecond),
    met: live.windowsPerSecond >= 2_000_000,
  });
  console.log();
}

if (parts.includes('memory')) {
  type Memory = {
    mode: string;
    records: number;
    baselineRssMB: number;
    engineLoadedRssMB: number;
    samples: Array<{
      percent: number;
      rssMB: number;
      engineRssMB: number;
      heapUsedMB: number;
      heapTotalMB: number;
      externalMB: number;
      inFlight: number;
      agents: number;
    }>;
    evictions: number;
  };
  console.log(
    '## Memory: 10,000 agents, 100,000 tasks in flight (decode → correlate → detect, and audit into the embedded engine, a process of its own)',
  );
  const runs: Memory[] = [];
  const variants = [
    { label: 'with the embedded ClickHouse engine (default)', mode: 'embedded', nodeArgs: [] },
    { label: 'without the audit sink', mode: 'without-engine', nodeArgs: [] },
    {
      label: 'the same, node --max-old-space-size=320',
      mode: 'without-engine',
      nodeArgs: ['--max-old-space-size=320'],
    },
  ];
  // A variant may run out of its capped heap: that is a result too (reported, not a crash of the bench).
  const failed: Array<string | null> = [];
  for (const v of variants) {
    try {
      runs.push(await runChild<Memory>('./memory/memory.js', [v.mode], { nodeArgs: ['--expose-gc', ...v.nodeArgs] }));
      failed.push(null);
    } catch (err) {
      runs.push({ mode: v.mode, records: 0, baselineRssMB: 0, engineLoadedRssMB: 0, samples: [], evictions: 0 });
      failed.push(/heap out of memory|exited with null/.test(String(err)) ? 'out of memory (aborted)' : 'failed');
    }
  }
  table(
    [
      'agentwatch',
      'RSS at start',
      'RSS at 25 / 50 / 75 / 100 %',
      'V8 heap used (after GC) at 25 / 50 / 75 / 100 %',
      'engine process RSS at 25 / 50 / 75 / 100 %',
    ],
    runs.map((m, i) =>
      failed[i] !== null
        ? [variants[i]!.label, '-', failed[i]!, '-', '-']
        : [
            variants[i]!.label,
            `${m.engineLoadedRssMB.toFixed(0)} MB`,
            m.samples.map((x) => x.rssMB.toFixed(0)).join(' / ') + ' MB',
            m.samples.map((x) => x.heapUsedMB.toFixed(0)).join(' / ') + ' MB',
            m.samples.some((x) => x.engineRssMB > 0)
              ? m.samples.map((x) => x.engineRssMB.toFixed(0)).join(' / ') + ' MB'
              : '-',
          ],
    ),
  );
  const last = runs[0]!.samples.at(-1)!;
  console.log(
    `(RSS; tasks in flight at the samples: ${runs[0]!.samples.map((x) => x.inFlight.toLocaleString('en')).join(', ')}; agents: ${last.agents.toLocaleString('en')}; evictions: ${runs[0]!.evictions})`,
  );
  const peak = (m: Memory) => (m.samples.length === 0 ? 'n/a' : Math.max(...m.samples.map((x) => x.rssMB)).toFixed(0));
  goals.push({
    goal: 'RSS ≤ 300 MB (10k agents, 100k in flight)',
    measured: `${peak(runs[0]!)} MB, the engine's process apart (without the audit sink ${peak(runs[1]!)} MB; heap capped ${peak(runs[2]!)} MB)`,
    met: Math.max(...runs[0]!.samples.map((x) => x.rssMB)) <= 300,
  });
  console.log();
}

if (parts.includes('detection')) {
  const { spawnSync } = await import('node:child_process');
  const script = new URL('./detection/detection.js', import.meta.url).pathname;
  spawnSync(process.execPath, [script, '--seeds', '5'], { stdio: 'inherit' });
}

if (parts.includes('queries')) {
  type Figures = Array<{ name: string; p50Ms: number; p99Ms: number; meanRows: number }>;
  type Queries = {
    rows: number;
    fillSeconds: number;
    disk: string;
    whileMerging: { parts: number; merges: number; figures: Figures };
    settled: { parts: number; merges: number; figures: Figures };
  };
  const r = await runChild<Queries>('./queries/queries.js', [String(rows)]);
  console.log(
    `## Queries: ${r.rows.toLocaleString('en')} audit rows in the embedded engine (${r.disk} on disk; generated in ${r.fillSeconds.toFixed(0)} s)`,
  );
  const cell = (f: Figures[number]) => `${f.p50Ms.toFixed(1)} / ${f.p99Ms.toFixed(1)}`;
  table(
    [
      'query',
      `p50 / p99 ms right after the load (${r.whileMerging.parts} parts, merging)`,
      `p50 / p99 ms once merged (${r.settled.parts} parts)`,
      'rows returned (mean)',
    ],
    r.settled.figures.map((f, i) => [f.name, cell(r.whileMerging.figures[i]!), cell(f), f.meanRows.toFixed(1)]),
  );
  const [loading, merged] = [r.whileMerging.figures[0]!, r.settled.figures[0]!];
  goals.push({
    goal: `timeline p99 ≤ 50 ms on ${r.rows.toLocaleString('en')} rows`,
    measured: `${merged.p99Ms.toFixed(1)} ms merged, ${loading.p99Ms.toFixed(1)} ms while merging`,
    met: merged.p99Ms <= 50 && loading.p99Ms <= 50,
  });
  console.log();
}

if (goals.length > 0) {
  console.log('## Goals');
  table(
    ['goal', 'measured', 'met'],
    goals.map((g) => [g.goal, g.measured, g.met ? 'yes' : 'NO']),
  );
}

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`${name} must be a positive whole number, not ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en');
}

function ratio(x: number): string {
  return `${x.toFixed(2)}×`;
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}
