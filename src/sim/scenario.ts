// What the simulated fleet does: capabilities chained into workflows, their latency, payload and
// failure profiles, the workflow rate, and the faults to inject (each on one agent, from a time, for
// a duration, all in event time). A scenario comes from a JSON file and/or flags; every problem is
// reported at once.

import { readFileSync } from 'node:fs';
import { AgentwatchError } from '../errors.js';
import {
  FAULT_KINDS,
  applyFault,
  normalConditions,
  rateFactor,
  type AttemptConditions,
  type FaultKind,
} from './faults.js';

export type WireFormat = 'a2a' | 'envelope' | 'avro';

export interface CapabilityProfile {
  name: string;
  format: WireFormat;
  workers: number;
  latencyMedianMs: number;
  latencySigma: number;
  payloadMedianBytes: number;
  failureRate: number;
}

export interface Fault {
  kind: FaultKind;
  agent: string;
  /** Event time after the start of the run, ms. */
  atMs: number;
  durationMs: number;
}

export interface Scenario {
  /** Event-time length of the run, ms (0: until stopped). */
  durationMs: number;
  /** Event time passes this many times faster than wall time. */
  speed: number;
  /** Workflows started per second of event time. */
  workflowsPerSecond: number;
  maxAttempts: number;
  capabilities: CapabilityProfile[];
  faults: Fault[];
}

export const DEFAULT_CAPABILITIES: readonly CapabilityProfile[] = [
  {
    name: 'extract',
    format: 'a2a',
    workers: 2,
    latencyMedianMs: 300,
    latencySigma: 0.3,
    payloadMedianBytes: 800,
    failureRate: 0.01,
  },
  {
    name: 'summarize',
    format: 'envelope',
    workers: 2,
    latencyMedianMs: 600,
    latencySigma: 0.3,
    payloadMedianBytes: 400,
    failureRate: 0.01,
  },
  {
    name: 'classify',
    format: 'avro',
    workers: 2,
    latencyMedianMs: 150,
    latencySigma: 0.3,
    payloadMedianBytes: 120,
    failureRate: 0.01,
  },
];

export function defaultScenario(): Scenario {
  return {
    durationMs: 0,
    speed: 1,
    workflowsPerSecond: 5,
    maxAttempts: 3,
    capabilities: DEFAULT_CAPABILITIES.map((c) => ({ ...c })),
    faults: [],
  };
}

/** "90s", "20m", "2h", "500ms" or a number of ms. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * unit);
}

/** kind:agent:at:duration, e.g. latency-x4:summarize:6m:4m */
export function parseFault(text: string, problems: string[]): Fault | undefined {
  const [kind, agent, at, duration] = text.split(':');
  const atMs = at === undefined ? undefined : parseDuration(at);
  const durationMs = duration === undefined ? undefined : parseDuration(duration);
  if (!FAULT_KINDS.includes(kind as FaultKind))
    problems.push(`fault ${JSON.stringify(text)}: kind must be one of ${FAULT_KINDS.join(', ')}`);
  else if (agent === undefined || agent === '')
    problems.push(`fault ${JSON.stringify(text)}: name the agent (capability), e.g. ${kind}:summarize:6m:4m`);
  else if (atMs === undefined || durationMs === undefined || durationMs <= 0)
    problems.push(`fault ${JSON.stringify(text)}: give a start and a duration, e.g. ${kind}:${agent}:6m:4m`);
  else return { kind: kind as FaultKind, agent, atMs, durationMs };
  return undefined;
}

/** Reads a scenario file (JSON, the fields of Scenario; durations may be "6m"), over the defaults. */
export function loadScenario(path: string | undefined, problems: string[]): Scenario {
  const scenario = defaultScenario();
  if (path === undefined) return scenario;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    problems.push(`scenario ${path}: ${(err as Error).message}`);
    return scenario;
  }
  const duration = (value: unknown, field: string): number | undefined => {
    const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseDuration(value) : undefined;
    if (ms === undefined) problems.push(`scenario ${path}: ${field} must be a duration like "20m" or a number of ms`);
    return ms;
  };
  if (raw.duration !== undefined) scenario.durationMs = duration(raw.duration, 'duration') ?? 0;
  if (typeof raw.speed === 'number') scenario.speed = raw.speed;
  if (typeof raw.workflowsPerSecond === 'number') scenario.workflowsPerSecond = raw.workflowsPerSecond;
  if (Array.isArray(raw.capabilities))
    scenario.capabilities = raw.capabilities.map((c) => ({
      ...DEFAULT_CAPABILITIES[0]!,
      ...(c as Partial<CapabilityProfile>),
    }));
  if (Array.isArray(raw.faults)) {
    for (const fault of raw.faults as Array<Record<string, unknown>>) {
      const parsed = parseFault(
        `${String(fault.kind)}:${String(fault.agent)}:${String(fault.at)}:${String(fault.duration)}`,
        problems,
      );
      if (parsed !== undefined) scenario.faults.push(parsed);
    }
  }
  return scenario;
}

export function validateScenario(scenario: Scenario, problems: string[]): void {
  if (!(scenario.speed > 0 && scenario.speed <= 10_000))
    problems.push(`speed ${scenario.speed} must be above 0 and at most 10000`);
  if (!(scenario.workflowsPerSecond > 0 && scenario.workflowsPerSecond <= 10_000))
    problems.push(`rate ${scenario.workflowsPerSecond} must be above 0 and at most 10000 workflows/s`);
  if (scenario.capabilities.length === 0) problems.push('at least one capability is needed');
  for (const c of scenario.capabilities) {
    if (!/^[a-z][a-z0-9-]{0,60}$/.test(c.name))
      problems.push(`capability name ${JSON.stringify(c.name)}: lowercase letters, digits and -`);
    if (!['a2a', 'envelope', 'avro'].includes(c.format))
      problems.push(`capability ${c.name}: format must be a2a, envelope or avro`);
    if (!(c.failureRate >= 0 && c.failureRate < 1))
      problems.push(`capability ${c.name}: failureRate must be in [0, 1)`);
  }
  for (const f of scenario.faults) {
    if (!scenario.capabilities.some((c) => c.name === f.agent))
      problems.push(
        `fault ${f.kind} names agent ${f.agent}, which is not a capability (${scenario.capabilities.map((c) => c.name).join(', ')})`,
      );
  }
}

export function scenarioError(problems: string[]): AgentwatchError {
  return new AgentwatchError('AW_CLI_USAGE', `invalid scenario:\n  - ${problems.join('\n  - ')}`);
}

/**
 * How an attempt of `capability` requested at event offset `at` is served, and the factor of its
 * request rate, from the faults active on it then (faults.ts: the same effects as the generated
 * fleet's). The simulator retries every failed attempt (up to maxAttempts), and a worker fault acts
 * on every worker of the capability.
 */
export function activeEffects(
  faults: readonly Fault[],
  capability: CapabilityProfile,
  at: number,
): { conditions: AttemptConditions; rate: number } {
  const profile = {
    failureRate: capability.failureRate,
    retryRate: capability.failureRate,
    latencySigma: capability.latencySigma,
  };
  const conditions = normalConditions(profile);
  let rate = 1;
  for (const f of faults) {
    if (f.agent !== capability.name || at < f.atMs || at >= f.atMs + f.durationMs) continue;
    applyFault(conditions, f.kind, profile, (at - f.atMs) / f.durationMs, true);
    rate *= rateFactor(f.kind);
  }
  return { conditions, rate };
}
