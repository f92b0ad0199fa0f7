// How busy the machine and the Kafka broker were during a measurement (Linux /proc): with 2 cores,
// agentwatch, the embedded engine's threads and the broker share the same CPUs.

import { existsSync, readFileSync } from 'node:fs';
import { repoRoot } from '../local-stack.js';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface Reading {
  busy: number;
  total: number;
  broker: number | null;
}

function read(): Reading {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3]! + (cpu[4] ?? 0);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total, broker: brokerTicks() };
}

function brokerTicks(): number | null {
  const pidFile = `${process.env.AGENTWATCH_STACK_DIR ?? `${repoRoot}.stack`}/pids/kafka.pid`;
  if (!existsSync(pidFile)) return null;
  const seconds = processCpuSeconds(Number(readFileSync(pidFile, 'utf8').trim()));
  return seconds === null ? null : seconds * TICKS_PER_SECOND;
}

/** CPU seconds (user + system) a process has used so far, or null when it cannot be read. */
export function processCpuSeconds(pid: number, thread?: number): number | null {
  try {
    const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime + stime
  } catch {
    return null;
  }
}

export interface CpuUse {
  /** Share of all cores busy (0..1). */
  machineBusy: number;
  /** CPU seconds the local Kafka broker used, when its pid is known. */
  brokerSeconds: number | null;
}

/** Runs `work` and reports how busy the machine and the broker were meanwhile. */
export async function measuringCpu<T>(work: () => Promise<T>): Promise<T & { cpu: CpuUse }> {
  const before = read();
  const result = await work();
  const after = read();
  const brokerSeconds =
    before.broker === null || after.broker === null ? null : (after.broker - before.broker) / TICKS_PER_SECOND;
  return {
    ...result,
    cpu: { machineBusy: (after.busy - before.busy) / Math.max(1, after.total - before.total), brokerSeconds },
  };
}
