// Part 1: end-to-end throughput. Preloads the A2A traffic once, then times, in fresh processes on
// the same broker: kcat, a bare kafkajs eachBatch consumer, a bare @platformatic/kafka consumer, and
// agentwatch (audited, scored, committed), with agentwatch's main-thread time broken down by stage
// from a CPU profile.

import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Config } from '../../src/config/index.js';
import { createKafka } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { progress, runChild } from '../child.js';
import { benchTopics } from './a2a-traffic.js';
import { timeByStage } from './cpu-profile.js';
import { measuringCpu, type CpuUse } from './machine-cpu.js';
import { deleteTopics, preload } from './preload.js';
import { readWithKcat } from './read-kcat.js';

export interface ReaderResult {
  records: number;
  seconds: number;
  cpu?: CpuUse;
  readSeconds?: number;
  cpuSeconds?: number;
}

export interface AgentwatchResult extends ReaderResult {
  /** CPU seconds of the embedded engine's process during the run. */
  engineCpuSeconds: number | null;
  /** CPU seconds of agentwatch's main thread alone (from /proc, no profiler). */
  mainThreadCpuSeconds: number | null;
  auditRows: number;
  stats: {
    correlator: { answered: number; inFlight: number; answersBeforeRequests: number };
    detector: { windowsScored: number; lateEvents: number };
    pipeline: { events: number; byEncoding: Record<string, number> };
  };
  stages: Record<string, { seconds: number; count: number }>;
}

export interface EndToEndResult {
  messages: number;
  averageBytes: number;
  preload: { seconds: number };
  kcat: ReaderResult;
  kafkajs: ReaderResult;
  platformatic: ReaderResult;
  agentwatch: AgentwatchResult;
  /** The same run under the CPU profiler, whose main-thread time is in `mainThread`. */
  profiled: AgentwatchResult;
  mainThread: Record<string, number>;
}

export async function endToEnd(config: Config, messages: number): Promise<EndToEndResult> {
  const run = randomUUID()
    .slice(0, 8)
    .replace(/[0-9]/g, (d) => 'abcdefghij'[Number(d)]!); // topic convention: [a-z]+
  const kafka = createKafka(config.kafka, createLogger('warn'));
  const topics = benchTopics(run);
  const brokers = config.kafka.brokers.join(',');
  progress(
    `preloading ${messages.toLocaleString('en')} A2A messages into 12 partitions (topics agent.{tasks,results}.*-${run})`,
  );
  const loaded = await preload(kafka, run, messages);
  try {
    progress('kcat reads them');
    const kcat = await measuringCpu(() => readWithKcat(brokers, topics, messages));
    progress('a bare kafkajs consumer reads them');
    const bare = await measuringCpu(() =>
      runChild<ReaderResult>('./e2e/read-kafkajs.js', [
        brokers,
        topics.join(','),
        String(messages),
        String(config.ingest.partitionsConcurrently),
      ]),
    );
    progress('a bare @platformatic/kafka consumer reads them');
    const platformatic = await measuringCpu(() =>
      runChild<ReaderResult>('./e2e/read-platformatic.js', [brokers, topics.join(','), String(messages)]),
    );
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    progress('agentwatch audits, scores and commits them');
    const agentwatch = await measuringCpu(() =>
      runChild<AgentwatchResult>('./e2e/read-agentwatch.js', [run, topics.join(','), String(messages)], { nodeArgs }),
    );
    progress('agentwatch again, in a new group and store, with the CPU profiler on');
    const profileDir = mkdtempSync(join(tmpdir(), 'aw-bench-profile-'));
    const profiled = await runChild<AgentwatchResult>(
      './e2e/read-agentwatch.js',
      [run, topics.join(','), String(messages)],
      {
        nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, ...nodeArgs],
      },
    );
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: ingest workers (INGEST_WORKERS) write
    // their own; the main thread's thread id is 0.
    const profile = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile') && name.split('.')[4] === '0');
    const mainThread = profile === undefined ? {} : timeByStage(join(profileDir, profile));
    const keep = process.env.BENCH_KEEP_PROFILE; // a path: open the profile in Chrome DevTools
    if (profile !== undefined && keep !== undefined) copyFileSync(join(profileDir, profile), keep);
    rmSync(profileDir, { recursive: true, force: true });
    return {
      messages,
      averageBytes: loaded.bytes / messages,
      preload: { seconds: loaded.seconds },
      kcat,
      kafkajs: bare,
      platformatic,
      agentwatch,
      profiled,
      mainThread,
    };
  } finally {
    await deleteTopics(kafka, run).catch((err: unknown) =>
      progress(`could not delete the benchmark topics: ${String(err)}`),
    );
  }
}
