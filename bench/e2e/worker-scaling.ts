// Part "workers": how agentwatch scales with ingest worker threads (INGEST_WORKERS). Preloads the
// A2A traffic once, then runs agentwatch (audited, scored, committed) on it with 0, 1, 2 and 4
// workers, in rounds that alternate the settings (the machine drifts between runs), each in a fresh
// process, group and store. Reports msgs/s, the main thread's CPU and the process's per message.

import { randomUUID } from 'node:crypto';
import type { Config } from '../../src/config/index.js';
import { createKafka } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { progress, runChild } from '../child.js';
import { benchTopics } from './a2a-traffic.js';
import type { AgentwatchResult } from './end-to-end.js';
import { measuringCpu, type CpuUse } from './machine-cpu.js';
import { deleteTopics, preload } from './preload.js';

export const WORKER_COUNTS = [0, 1, 2, 4] as const;
const ROUNDS = 2;

export interface WorkerRun {
  workers: number;
  round: number;
  msgsPerSecond: number;
  /** CPU µs per message: agentwatch's main thread, its whole process, the embedded engine's process. */
  mainThreadMicros: number | null;
  processMicros: number | null;
  engineMicros: number | null;
  machineBusy: number;
}

export async function workerScaling(config: Config, messages: number): Promise<WorkerRun[]> {
  const run = randomUUID()
    .slice(0, 8)
    .replace(/[0-9]/g, (d) => 'abcdefghij'[Number(d)]!);
  const kafka = createKafka(config.kafka, createLogger('warn'));
  const topics = benchTopics(run);
  progress(`preloading ${messages.toLocaleString('en')} A2A messages for the worker runs`);
  await preload(kafka, run, messages);
  const runs: WorkerRun[] = [];
  const perMessage = (seconds: number | null | undefined) => (seconds == null ? null : (1e6 * seconds) / messages);
  try {
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const workers of WORKER_COUNTS) {
        progress(`agentwatch with INGEST_WORKERS=${workers} (round ${round} of ${ROUNDS})`);
        const result: AgentwatchResult & { cpu: CpuUse } = await measuringCpu(() =>
          runChild<AgentwatchResult>('./e2e/read-agentwatch.js', [run, topics.join(','), String(messages)], {
            env: { BENCH_SET_INGEST_WORKERS: String(workers) },
          }),
        );
        runs.push({
          workers,
          round,
          msgsPerSecond: result.records / (result.readSeconds ?? result.seconds),
          mainThreadMicros: perMessage(result.mainThreadCpuSeconds),
          processMicros: perMessage(result.cpuSeconds),
          engineMicros: perMessage(result.engineCpuSeconds),
          machineBusy: result.cpu.machineBusy,
        });
      }
    }
    return runs;
  } finally {
    await deleteTopics(kafka, run).catch((err: unknown) =>
      progress(`could not delete the benchmark topics: ${String(err)}`),
    );
  }
}
