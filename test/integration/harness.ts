// Shared pieces of the integration tests: unique names per run, topic creation, a collecting sink,
// polling with a deadline, the real agentwatch Service started in-process against the stack, the
// agentwatch CLI spawned as a process of its own (to be killed), a real client wrapped to fail, and
// the progress and audit counts of the crash drills.

import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns, type StdioOptions } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { ClickHouseClient } from '../../src/audit/index.js';
import type { CorrelatedBatch, EventSink, TaskTimeout } from '../../src/correlate/index.js';
import type { AgentEvent } from '../../src/decode/index.js';
import { createKafka } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { Service } from '../../src/service.js';
import { repoRoot, stackConfig } from '../../bench/local-stack.js';

export function runId(): string {
  return randomUUID().slice(0, 8);
}

/** The test's own tap: topics named agent.<kind>.<capability>-<run>, its own group and DLQ. */
export function isolatedOverrides(run: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    INGEST_TOPIC_PATTERN: `^agent\\.[a-z]+\\.[a-z]+-${run}$`,
    KAFKA_GROUP_ID: `agentwatch-test-${run}`,
    DLQ_TOPIC: `agentwatch.dlq.${run}`,
    CLICKHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), `aw-${run}-`)),
    OUTPUT_TOPIC_PARTITIONS: '1',
    API_PORT: '0',
    ...extra,
  };
}

export function testKafka(): Kafka {
  return createKafka(stackConfig().kafka, createLogger('warn'));
}

export async function createTopics(
  kafka: Kafka,
  topics: Array<{ topic: string; numPartitions: number; configEntries?: Array<{ name: string; value: string }> }>,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export async function connectedProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  return producer;
}

/** Keeps every batch it is given; a sink that accepts at once. */
export class CollectingSink implements EventSink {
  readonly name = 'collector';
  readonly events: AgentEvent[] = [];
  readonly timeouts: TaskTimeout[] = [];

  async accept(batch: CorrelatedBatch): Promise<void> {
    this.events.push(...batch.events);
    this.timeouts.push(...batch.timeouts);
  }

  async close(): Promise<void> {}
}

/** Polls `condition` every 50 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startService(overrides: Record<string, string>, sinks: EventSink[]): Promise<Service> {
  return Service.start(
    stackConfig(overrides),
    createLogger((process.env.TEST_LOG_LEVEL as 'warn' | undefined) ?? 'warn'),
    { extraSinks: sinks },
  );
}

/** The agentwatch CLI as built. */
export const AGENTWATCH_CLI = join(repoRoot, 'dist/src/cli/main.js');

/** A spawned agentwatch's environment: PATH, the stack's broker and registry, then `overrides` (nothing else inherited). */
export function agentwatchEnv(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  const config = stackConfig();
  return {
    PATH: process.env.PATH ?? '',
    KAFKA_BROKERS: config.kafka.brokers.join(','),
    SCHEMA_REGISTRY_URL: config.schemaRegistry.url,
    ...overrides,
  };
}

/** Starts `agentwatch <args>` as a process of its own, with agentwatchEnv(overrides). */
export function spawnAgentwatch(
  args: readonly string[],
  overrides: Record<string, string> = {},
  stdio: StdioOptions = ['ignore', 'ignore', 'inherit'],
): ChildProcess {
  return spawn(process.execPath, [AGENTWATCH_CLI, ...args], { env: agentwatchEnv(overrides), stdio });
}

/** Runs `agentwatch <args>` to the end (verify, check), with agentwatchEnv(overrides). */
export function runAgentwatch(
  args: readonly string[],
  overrides: Record<string, string> = {},
): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [AGENTWATCH_CLI, ...args], { env: agentwatchEnv(overrides), encoding: 'utf8' });
}

/**
 * A real client whose method `name` is replaced by `replacement(real, ...args)`; every other member
 * is the real one's. For faults the real service cannot be made to show on demand (a refused or
 * lost insert inside this process).
 */
export function withMethod<T extends object, K extends keyof T>(
  real: T,
  name: K,
  replacement: T[K] extends (...args: infer A) => infer R ? (real: T, ...args: A) => R : never,
): T {
  return new Proxy(real, {
    get(target, property, receiver) {
      if (property === name)
        return (...args: unknown[]) => (replacement as (...a: unknown[]) => unknown)(target, ...args);
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Distinct (partition, offset) pairs in an EVENTS_FILE: how many records a spawned agentwatch has read. */
export function recordsInEventsFile(file: string): number {
  if (!existsSync(file)) return 0;
  const seen = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /"partition":(\d+),"offset":"(\d+)"/.exec(line);
    if (match !== null) seen.add(`${match[1]}:${match[2]}`);
  }
  return seen.size;
}

/** Audit rows of `topic`, and the distinct records among them (equal when each is stored once). */
export async function auditRowCounts(client: ClickHouseClient, topic: string): Promise<[number, number]> {
  const [counts] = await (
    await client.query({
      query:
        'SELECT count() AS rows, uniqExact(partition, offset) AS distinct_records FROM audit_events WHERE topic = {topic:String}',
      query_params: { topic },
      format: 'JSONEachRow',
    })
  ).json<{ rows: string; distinct_records: string }>();
  return [Number(counts!.rows), Number(counts!.distinct_records)];
}
