// agentwatch itself, started as `agentwatch run` starts it (Service.start), in its own group on a
// fresh embedded ClickHouse, timed until every benchmark record is audited, handed to detection and
// committed: the group's committed offsets reach the end of all 12 partitions. A batch's offsets are
// committed only after every sink accepted it, so the last commit implies the rest.
// Prints {records, seconds, readSeconds, cpuSeconds, engineCpuSeconds (the engine's process),
// mainThreadCpuSeconds, stats, stages}.
//   node [--cpu-prof …] dist/bench/e2e/read-agentwatch.js <run> <topic,topic,…> <expected records>

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedEngine } from '../../src/audit/index.js';
import { createKafka } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { Service } from '../../src/service.js';
import { stackConfig } from '../local-stack.js';
import { progress } from '../child.js';
import { processCpuSeconds } from './machine-cpu.js';

const STALL_MS = 120_000;
const [run, topicList, expectedText] = process.argv.slice(2);
const topics = topicList!.split(',');
const expected = Number(expectedText);
const dataDir = mkdtempSync(join(tmpdir(), `aw-bench-${run}-`));
const groupId = `agentwatch-bench-${run}-${process.pid}`;
const config = stackConfig({
  INGEST_TOPIC_PATTERN: `^agent\\.(tasks|results)\\.[a-z]+-${run}$`,
  KAFKA_GROUP_ID: groupId,
  DLQ_TOPIC: `agentwatch.dlq.bench-${run}`,
  CLICKHOUSE_DATA_DIR: dataDir,
  API_PORT: '0',
  API_METRICS_PUBLIC: 'true',
  ...Object.fromEntries(
    Object.entries(process.env)
      .filter(([name]) => name.startsWith('BENCH_SET_'))
      .map(([name, value]) => [name.slice('BENCH_SET_'.length), value!]),
  ),
});

const kafka = createKafka(config.kafka, createLogger('warn'));
const admin = kafka.admin();
await admin.connect();
const ends = new Map<string, string>();
for (const topic of topics)
  for (const p of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}:${p.partition}`, p.high);

const cpu = process.cpuUsage();
const started = performance.now();
const service = await Service.start(config, createLogger('warn'));
const enginePid = embeddedEngine(service.clickhouse)?.pid;
const engineCpuAtStart = enginePid === undefined ? null : processCpuSeconds(enginePid);
// The main thread's own CPU (its thread id is the process id): what INGEST_WORKERS takes off it.
const mainThreadCpuAtStart = processCpuSeconds(process.pid, process.pid);
let firstAt = 0;
let lastReport = 0;
let lastProgress = { at: performance.now(), records: -1 };
for (;;) {
  const records = service.stats().tap.records;
  if (firstAt === 0 && records > 0) firstAt = performance.now();
  if (records >= expected && (await allCommitted())) break;
  if (records !== lastProgress.records) lastProgress = { at: performance.now(), records };
  else if (performance.now() - lastProgress.at > STALL_MS) {
    throw new Error(
      `agentwatch made no progress for ${STALL_MS / 1000} s: ${records} of ${expected} records read, ${service.stats().audit.rowsWritten} audited; see its warnings above`,
    );
  }
  if (performance.now() - lastReport > 10_000) {
    lastReport = performance.now();
    progress(
      `agentwatch: ${records.toLocaleString('en')} records read, ${service.stats().audit.rowsWritten.toLocaleString('en')} audited`,
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const ended = performance.now();
const used = process.cpuUsage(cpu);
const engineCpuAtEnd = enginePid === undefined ? null : processCpuSeconds(enginePid);
const mainThreadCpuAtEnd = processCpuSeconds(process.pid, process.pid);
const stats = service.stats();
const metrics = await (await fetch(`${service.apiUrl}/metrics`)).text();
const rows = await service.clickhouse
  .query({ query: 'SELECT count() AS n FROM audit_events', format: 'JSONEachRow' })
  .then((r) => r.json<{ n: string }>());
await service.stop();
await admin.disconnect();
rmSync(dataDir, { recursive: true, force: true });

console.log(
  JSON.stringify({
    records: stats.tap.records,
    seconds: (ended - started) / 1000,
    readSeconds: (ended - firstAt) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
    engineCpuSeconds: engineCpuAtStart === null || engineCpuAtEnd === null ? null : engineCpuAtEnd - engineCpuAtStart,
    mainThreadCpuSeconds:
      mainThreadCpuAtStart === null || mainThreadCpuAtEnd === null ? null : mainThreadCpuAtEnd - mainThreadCpuAtStart,
    auditRows: Number(rows[0]!.n),
    stats,
    stages: stageSums(metrics),
  }),
);

async function allCommitted(): Promise<boolean> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  return committed.every(({ topic, partitions }) =>
    partitions.every((p) => p.offset === ends.get(`${topic}:${p.partition}`)),
  );
}

/** Seconds and counts summed over batches per pipeline stage, and of the audit inserts, from /metrics. */
function stageSums(text: string): Record<string, { seconds: number; count: number }> {
  const sums: Record<string, { seconds: number; count: number }> = {};
  for (const line of text.split('\n')) {
    const m =
      /^agentwatch_(batch_stage_seconds|audit_insert_seconds)_(sum|count)(?:\{stage="(\w+)"\})? ([\d.e+-]+)$/.exec(
        line,
      );
    if (m === null) continue;
    const stage = m[3] ?? 'audit insert';
    sums[stage] ??= { seconds: 0, count: 0 };
    if (m[2] === 'sum') sums[stage].seconds = Number(m[4]);
    else sums[stage].count = Number(m[4]);
  }
  return sums;
}
