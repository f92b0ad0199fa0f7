// Shared pieces of the integration tests: unique names per run, topic creation, a collecting sink,
// polling with a deadline, and the real agentwatch Service started in-process against the stack.

import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { CorrelatedBatch, EventSink, TaskTimeout } from '../../src/correlate/index.js';
import type { AgentEvent } from '../../src/decode/index.js';
import { createKafka } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { Service } from '../../src/service.js';
import { stackConfig } from './stack-env.js';

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
