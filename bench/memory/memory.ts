// Part 3: memory at fleet scale. The data path after the tap (decode → correlate → audit insert into
// the embedded ClickHouse, whose engine runs in a child process, and detection) in one process, fed with tapped batches of JSON-envelope
// records: 10,000 agents, each with requests in most windows, and tasks answered 40 s of event time
// after their request, so that 100,000 tasks are in flight from a quarter of the run on. Kafka is
// left out (its batches are bounded by INGEST_MAX_BYTES_PER_PARTITION, whatever the fleet's size);
// everything that grows with agents and tasks is in. Prints RSS at 25/50/75/100 % of the run (the
// dispatching part, while 100,000 tasks are in flight) as JSON, with the engine process's RSS apart.
// With `without-engine`, the audit sink and the embedded ClickHouse engine are left out (not even
// started): agentwatch's own memory less the audit writer's buffers.
//   node --expose-gc dist/bench/memory/memory.js [embedded|without-engine] [tasks]
// BENCH_HEAP_SNAPSHOT=<file> writes a V8 heap snapshot at the 50 % sample.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { ClockFindings, Correlator, EventClock, type EventSink } from '../../src/correlate/index.js';
import { Partitioners } from 'kafkajs';
import { RecordDecoder, type KafkaRecord } from '../../src/decode/index.js';
import { Detector, DetectorSink } from '../../src/detect/index.js';
import { DlqWriter, createKafka } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { Pipeline } from '../../src/pipeline.js';
import { stackConfig } from '../local-stack.js';
import { progress } from '../child.js';

const AGENTS = 10_000;
const TASKS_PER_SECOND = 2_500; // event time
const LATENCY_MS = 40_000; // so 2,500/s × 40 s = 100,000 tasks in flight
const BATCH = 2_000;
const PARTITIONS = 6;
const TOPICS = { tasks: 'fleet.tasks', results: 'fleet.results' } as const;

const mode = process.argv[2] ?? 'embedded';
// 1,000,000 tasks: the correlator's tables (100,000 in flight, 100,000 recently finished) are full
// from 20 % of the run on, so the samples show the steady state.
const tasks = Number(process.argv[3] ?? 1_000_000);
const dataDir = mkdtempSync(join(tmpdir(), 'aw-bench-memory-'));
const config = stackConfig({
  CLICKHOUSE_DATA_DIR: dataDir,
  CORRELATE_MAX_INFLIGHT: '200000',
  CORRELATE_MAX_RECENT: '100000',
});
const logger = createLogger('warn');
const baselineRssMB = process.memoryUsage().rss / 2 ** 20;
const producer = createKafka(config.kafka, logger).producer({ createPartitioner: Partitioners.DefaultPartitioner }); // for DLQ copies; none are expected
await producer.connect();
const correlator = new Correlator(config.correlate);
const detector = new Detector(config.detect);
const sinks: EventSink[] = [new DetectorSink(detector, async () => undefined)];
let closeAudit = async () => {};
let enginePid: number | undefined;
if (mode === 'embedded') {
  const { AuditWriter, createClickHouseClient, createRedactor, embeddedEngine, migrate } =
    await import('../../src/audit/index.js');
  const clickhouse = await createClickHouseClient(config.clickhouse);
  enginePid = embeddedEngine(clickhouse)?.pid;
  await migrate(clickhouse, { retentionDays: 0 });
  const audit = new AuditWriter(clickhouse, {
    batchRows: config.audit.batchRows,
    flushMs: config.audit.flushMs,
    retryMaxMs: 5_000,
    redact: createRedactor([]),
    logger,
  });
  sinks.unshift(audit);
  closeAudit = async () => {
    await audit.close();
    await clickhouse.close();
  };
} else if (mode !== 'without-engine') {
  throw new Error(`unknown mode ${mode}: embedded or without-engine`);
}
const engineLoadedRssMB = process.memoryUsage().rss / 2 ** 20;

/** The engine process's RSS in MB (0 without it). */
function engineRssMB(): number {
  if (enginePid === undefined) return 0;
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${enginePid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]) / 1024;
}
const pipeline = new Pipeline({
  decoder: new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes: config.ingest.maxPayloadBytes }),
  correlator,
  clock: new EventClock(config.eventTime),
  clockFindings: new ClockFindings(),
  dlq: new DlqWriter(producer, 'agentwatch.dlq.bench-memory'),
  sinks,
  logger,
  retryMaxMs: 5_000,
  alignMs: config.eventTime.alignMs,
});

const start = Date.now() - Math.ceil(tasks / TASKS_PER_SECOND) * 1000 - LATENCY_MS - 60_000;
const text = 'lorem ipsum dolor sit amet '.repeat(8);
const offsets = { tasks: new Array<number>(PARTITIONS).fill(0), results: new Array<number>(PARTITIONS).fill(0) };
const pending: KafkaRecord[][] = Array.from({ length: PARTITIONS * 2 }, () => []);
const samples: Array<{
  percent: number;
  records: number;
  rssMB: number;
  engineRssMB: number;
  heapUsedMB: number;
  inFlight: number;
  agents: number;
  windowsScored: number;
}> = [];
let records = 0;
let dispatched = 0;
const nextSample = [0.25, 0.5, 0.75, 1];

function record(kind: 'tasks' | 'results', partition: number, timestamp: number, body: object): void {
  const offset = offsets[kind][partition]!++;
  const list = pending[(kind === 'tasks' ? 0 : PARTITIONS) + partition]!;
  list.push({
    topic: TOPICS[kind], // one string per topic, as kafkajs hands out one per batch
    partition,
    offset: String(offset),
    timestamp,
    key: null,
    headers: {},
    value: Buffer.from(JSON.stringify(body)),
  });
}

async function handleFull(force: boolean): Promise<void> {
  for (const [i, list] of pending.entries()) {
    if (list.length === 0 || (!force && list.length < BATCH)) continue;
    const batch = list.splice(0, list.length);
    const { durable } = await pipeline.handle({
      topic: batch[0]!.topic,
      partition: i % PARTITIONS,
      records: batch,
      caughtUp: true,
      heartbeat: async () => undefined,
      isActive: () => true,
    });
    await durable;
    records += batch.length;
    while (nextSample.length > 0 && dispatched >= nextSample[0]! * tasks) {
      const percent = nextSample.shift()! * 100;
      globalThis.gc?.();
      const memory = process.memoryUsage();
      const sample = {
        percent,
        records,
        rssMB: memory.rss / 2 ** 20,
        engineRssMB: engineRssMB(),
        heapUsedMB: memory.heapUsed / 2 ** 20,
        heapTotalMB: memory.heapTotal / 2 ** 20,
        externalMB: memory.external / 2 ** 20,
        inFlight: correlator.stats().inFlight,
        agents: detector.stats().agents,
        windowsScored: detector.stats().windowsScored,
      };
      samples.push(sample);
      if (percent === 50 && process.env.BENCH_HEAP_SNAPSHOT !== undefined) {
        writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT); // for a look at what the heap holds
      }
      progress(
        `memory: ${percent} % (${records.toLocaleString('en')} records): RSS ${sample.rssMB.toFixed(0)} MB, ${sample.inFlight.toLocaleString('en')} tasks in flight, ${sample.agents.toLocaleString('en')} agents`,
      );
    }
  }
}

// Requests in event-time order; each task's result LATENCY_MS later (a FIFO, as latency is constant).
let answered = 0;
for (let i = 0; i < tasks; i += 1) {
  const at = start + Math.floor((i * 1000) / TASKS_PER_SECOND);
  while (answered < i && start + Math.floor((answered * 1000) / TASKS_PER_SECOND) + LATENCY_MS <= at) {
    const sent = start + Math.floor((answered * 1000) / TASKS_PER_SECOND);
    record('results', answered % PARTITIONS, sent + LATENCY_MS, {
      workflow_id: `wf-${answered}`,
      task_id: `task-${answered}`,
      task_type: `agent-${answered % AGENTS}`,
      result: { text },
    });
    answered += 1;
  }
  record('tasks', i % PARTITIONS, at, {
    workflow_id: `wf-${i}`,
    task_id: `task-${i}`,
    task_type: `agent-${i % AGENTS}`,
    payload: { text },
    a2a_version: '1.0',
  });
  dispatched = i + 1;
  await handleFull(dispatched === tasks);
}
for (; answered < tasks; answered += 1) {
  const sent = start + Math.floor((answered * 1000) / TASKS_PER_SECOND);
  record('results', answered % PARTITIONS, sent + LATENCY_MS, {
    workflow_id: `wf-${answered}`,
    task_id: `task-${answered}`,
    task_type: `agent-${answered % AGENTS}`,
    result: { text },
  });
  if (answered % BATCH === 0) await handleFull(false);
}
await handleFull(true);
const correlated = correlator.stats();
await closeAudit();
await producer.disconnect();
rmSync(dataDir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    mode,
    tasks,
    records,
    baselineRssMB,
    engineLoadedRssMB,
    samples,
    answered: correlated.answered,
    timeouts: correlated.timeouts,
    evictions: correlated.evictions,
  }),
);
