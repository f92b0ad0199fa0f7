// `npm run bench`: agentwatch's performance against its goals, measured in one run on the local
// stack (scripts/bench.sh starts it). Parts: e2e, scoring, memory, queries (all by default).
//   node dist/bench/run.js [e2e] [scoring] [memory] [queries] [--messages N] [--rows N]

import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { stackConfig } from '../test/integration/stack-env.js';
import { endToEnd } from './e2e/end-to-end.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    messages: { type: 'string', default: '1000000' },
    rows: { type: 'string', default: '10000000' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`Usage: npm run bench -- [e2e] [scoring] [memory] [queries] [--messages N] [--rows N]

Measures agentwatch against its performance goals on the local stack (scripts/bench.sh starts it):
  e2e      N A2A messages (default 1,000,000) over 12 partitions: kcat, a bare kafkajs consumer
           and agentwatch (audited, scored, committed), with a stage profile
  scoring  windows scored per second at d = 4, 8, 16; per-event window upkeep
  memory   RSS with 10,000 agents and 100,000 tasks in flight, at 25/50/75/100 % of the run
  queries  workflow timeline and filtered search p50/p99 over N audit rows (default 10,000,000)
With no part named, all four run. See bench/README.md for the method.`);
  process.exit(0);
}
const parts = positionals.length > 0 ? positionals : ['e2e', 'scoring', 'memory', 'queries'];
const unknown = parts.filter((p) => !['e2e', 'scoring', 'memory', 'queries'].includes(p));
if (unknown.length > 0) {
  console.error(`unknown part ${unknown.join(', ')}; the parts are e2e, scoring, memory, queries (see --help)`);
  process.exit(2);
}
const messages = positiveInt('--messages', values.messages!);
export const rows = positiveInt('--rows', values.rows!);

const goals: Array<{ goal: string; measured: string; met: boolean }> = [];
console.log(`agentwatch benchmarks, ${new Date().toISOString()}`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`);

if (parts.includes('e2e')) {
  const config = stackConfig();
  const r = await endToEnd(config, messages);
  const rate = (x: { records: number; seconds: number }) => x.records / x.seconds;
  console.log(`## End to end: ${r.messages.toLocaleString('en')} A2A messages (${r.averageBytes.toFixed(0)} B on average) in 12 partitions`);
  console.log(`preload (kafkajs producer, acks=1): ${r.preload.seconds.toFixed(1)} s`);
  table(['reader', 'seconds', 'from first record', 'msgs/s', 'vs bare kafkajs', 'process CPU s'], [
    ['kcat (librdkafka)', r.kcat.seconds.toFixed(1), '-', fmt(rate(r.kcat)), ratio(rate(r.kcat) / rate(r.kafkajs)), '-'],
    ['bare kafkajs eachBatch', r.kafkajs.seconds.toFixed(1), r.kafkajs.readSeconds!.toFixed(1), fmt(rate(r.kafkajs)), '1.00×', r.kafkajs.cpuSeconds!.toFixed(1)],
    ['agentwatch (audited, scored, committed)', r.agentwatch.seconds.toFixed(1), r.agentwatch.readSeconds!.toFixed(1), fmt(rate(r.agentwatch)), ratio(rate(r.agentwatch) / rate(r.kafkajs)), r.agentwatch.cpuSeconds!.toFixed(1)],
  ]);
  const a = r.agentwatch;
  console.log(`agentwatch checks: ${a.auditRows.toLocaleString('en')} audit rows, ${a.stats.correlator.answered.toLocaleString('en')} tasks answered (latency known), ${a.stats.detector.windowsScored} windows scored, ${a.stats.detector.lateEvents} late events`);
  console.log('\nagentwatch per stage, summed over batches (wall time; stages of concurrent batches overlap):');
  table(['stage', 'seconds', 'batches'], Object.entries(a.stages).map(([stage, s]) => [stage, s.seconds.toFixed(1), String(s.count)]));
  console.log('\nagentwatch main thread by stage (CPU profile, including the profiler\'s overhead):');
  const total = Object.values(r.mainThread).reduce((x, y) => x + y, 0);
  table(['stage', 'seconds', 'share'], Object.entries(r.mainThread).sort((x, y) => y[1] - x[1]).map(([stage, s]) => [stage, s.toFixed(1), `${(100 * s / total).toFixed(0)} %`]));
  goals.push({ goal: 'end to end ≥ 0.5 × bare kafkajs', measured: ratio(rate(a) / rate(r.kafkajs)), met: rate(a) / rate(r.kafkajs) >= 0.5 });
  console.log();
}

if (goals.length > 0) {
  console.log('## Goals');
  table(['goal', 'measured', 'met'], goals.map((g) => [g.goal, g.measured, g.met ? 'yes' : 'NO']));
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
