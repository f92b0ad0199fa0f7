// Acceptance: 10,000 mixed records (task envelope JSON, Avro via the registry, A2A JSON-RPC,
// garbage) over 3 agent topics and 6 partitions yield exactly 10,000 events of the right kinds, a
// latency for every request/answer pair, retry counts for redelivered tasks, timeouts for the tasks
// left unanswered, and a DLQ copy (with its reason) of every record that cannot be decoded.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Message } from 'kafkajs';
import { createSchemaRegistry } from '../../src/decode/index.js';
import { DLQ_HEADERS } from '../../src/ingest/index.js';
import type { Service } from '../../src/service.js';
import {
  CollectingSink,
  connectedProducer,
  createTopics,
  isolatedOverrides,
  runId,
  startService,
  testKafka,
  waitFor,
} from './harness.js';
import { repoRoot, stackConfig } from '../../bench/local-stack.js';

const run = runId();
const TASKS = `agent.tasks.review-${run}`; // 3 partitions: requests
const RESULTS = `agent.results.review-${run}`; // 2 partitions: answers
const STATUS = `agent.status.review-${run}`; // 1 partition: status updates, garbage
const TOTAL = 10_000;
const TASK_COUNT = 3_900;
const T0 = Date.now() - 3_600_000;
const TTL_MS = 30_000;

const kafka = testKafka();
const sink = new CollectingSink();
let service: Service;

type Format = 'json' | 'avro' | 'a2a';
const formatOf = (i: number): Format => (['json', 'avro', 'a2a'] as const)[i % 3]!;
const isRetried = (i: number) => i % 20 === 5;
const isUnanswered = (i: number) => i % 39 === 7;
const isError = (i: number) => i % 50 === 11 && !isUnanswered(i);
const latencyOf = (i: number) => 20 + (i % 10) * 30;
const requestAt = (i: number) => T0 + i * 10;
const retryAt = (i: number) => requestAt(i) + 5_000;

interface Planned {
  topic: string;
  partition: number;
  message: Message;
}
const plan: Planned[] = [];
const expected = {
  requests: 0,
  answers: 0,
  status: 0,
  garbage: 0,
  retried: new Set<string>(),
  unanswered: new Set<string>(),
  latency: new Map<string, number>(),
};

before(async () => {
  await createTopics(kafka, [
    { topic: TASKS, numPartitions: 3 },
    { topic: RESULTS, numPartitions: 2 },
    { topic: STATUS, numPartitions: 1 },
  ]);
  const registry = createSchemaRegistry(stackConfig().schemaRegistry);
  const schema = readFileSync(join(repoRoot, 'schemas/a2a-envelope.avsc'), 'utf8');
  const { id: schemaId } = await registry.register({ type: SchemaType.AVRO, schema }, { subject: `${TASKS}-value` });

  for (let i = 0; i < TASK_COUNT; i += 1) {
    const taskId = `task-${run}-${i}`;
    const workflowId = `wf-${i % 500}`;
    const format = formatOf(i);
    const request = async (at: number): Promise<Planned> => {
      const value =
        format === 'json'
          ? JSON.stringify({
              workflow_id: workflowId,
              task_type: 'review',
              task_id: taskId,
              payload: { doc: i },
              a2a_version: '1.0',
            })
          : format === 'avro'
            ? await registry.encode(schemaId, {
                workflow_id: workflowId,
                task_type: 'review',
                task_id: taskId,
                payload: JSON.stringify({ doc: i }),
                a2a_version: '1.0',
              })
            : JSON.stringify({
                jsonrpc: '2.0',
                id: `rpc-${i}`,
                method: 'message/send',
                params: {
                  message: {
                    kind: 'message',
                    role: 'user',
                    messageId: `m-${i}`,
                    taskId,
                    contextId: workflowId,
                    parts: [{ kind: 'text', text: `review ${i}` }],
                  },
                },
              });
      expected.requests += 1;
      return { topic: TASKS, partition: i % 3, message: { key: workflowId, value, timestamp: String(at) } };
    };
    plan.push(await request(requestAt(i)));
    if (isRetried(i)) {
      plan.push(await request(retryAt(i)));
      expected.retried.add(taskId);
    }
    if (format === 'a2a') {
      plan.push({
        topic: STATUS,
        partition: 0,
        message: {
          key: workflowId,
          timestamp: String(requestAt(i) + 5),
          value: JSON.stringify({
            kind: 'status-update',
            taskId,
            contextId: workflowId,
            status: { state: 'working' },
            final: false,
          }),
        },
      });
      expected.status += 1;
    }
    if (isUnanswered(i)) {
      expected.unanswered.add(taskId);
      continue;
    }
    const answeredAt = (isRetried(i) ? retryAt(i) : requestAt(i)) + latencyOf(i);
    const value =
      format === 'a2a'
        ? JSON.stringify(
            isError(i)
              ? { jsonrpc: '2.0', id: `rpc-${i}`, error: { code: -32603, message: 'internal error', data: { taskId } } }
              : {
                  jsonrpc: '2.0',
                  id: `rpc-${i}`,
                  result: { kind: 'task', id: taskId, contextId: workflowId, status: { state: 'completed' } },
                },
          )
        : JSON.stringify(
            isError(i)
              ? { workflow_id: workflowId, task_id: taskId, error: 'model refused' }
              : { workflow_id: workflowId, task_id: taskId, result: { summary: 'ok' } },
          );
    plan.push({ topic: RESULTS, partition: i % 2, message: { key: workflowId, value, timestamp: String(answeredAt) } });
    expected.answers += 1;
    expected.latency.set(taskId, latencyOf(i));
  }
  const garbage: Array<[Buffer | string, string]> = [];
  for (let g = 0; g < 50; g += 1) {
    garbage.push(['{"workflow_id": "wf-broken", ', 'invalid-json']);
    garbage.push([Buffer.from([0xc3, 0x28, 0xff, g]), 'invalid-utf8']);
    garbage.push([Buffer.from([0, 0x00, 0x0f, 0x42, 0x3f, 1, 2, 3]), 'unknown-schema']); // schema id 999999
    garbage.push([
      JSON.stringify({ workflow_id: 'wf-big', task_type: 'review', payload: 'x'.repeat(3000) }),
      'oversized',
    ]);
  }
  for (const [value, reason] of garbage)
    plan.push({
      topic: STATUS,
      partition: 0,
      message: { key: 'garbage', value, timestamp: String(T0 + 1000), headers: { 'expected-reason': reason } },
    });
  expected.garbage = garbage.length;

  // Heartbeats fill up to 10,000 records; the last one on every partition is late in event time, so
  // by the end every unanswered task is past its TTL.
  const partitions: Array<[string, number]> = [
    [TASKS, 0],
    [TASKS, 1],
    [TASKS, 2],
    [RESULTS, 0],
    [RESULTS, 1],
    [STATUS, 0],
  ];
  const filler = TOTAL - plan.length;
  for (let f = 0; f < filler; f += 1) {
    const [topic, partition] = partitions[f % partitions.length]!;
    const at = f >= filler - partitions.length ? T0 + 400_000 : T0 + f;
    plan.push({
      topic,
      partition,
      message: { key: null, value: JSON.stringify({ type: 'heartbeat', seq: f }), timestamp: String(at) },
    });
  }
  assert.equal(plan.length, TOTAL);

  const producer = await connectedProducer(kafka);
  // Per partition in plan order (offset order within a partition follows the plan).
  const byPartition = new Map<string, Planned[]>();
  for (const item of plan) {
    const k = `${item.topic}:${item.partition}`;
    byPartition.set(k, [...(byPartition.get(k) ?? []), item]);
  }
  for (const items of byPartition.values()) {
    for (let start = 0; start < items.length; start += 500) {
      const chunk = items.slice(start, start + 500);
      await producer.send({
        topic: chunk[0]!.topic,
        messages: chunk.map((p) => ({ ...p.message, partition: p.partition })),
      });
    }
  }
  await producer.disconnect();

  service = await startService(
    // Decoded on two worker threads (Avro on the main thread): the events must be the same as the
    // main thread's, which the rest of the suite decodes with.
    isolatedOverrides(run, {
      CORRELATE_TASK_TTL_MS: String(TTL_MS),
      INGEST_MAX_PAYLOAD_BYTES: '2048',
      INGEST_WORKERS: '2',
    }),
    [sink],
  );
  await waitFor(
    '10,000 events and every timeout',
    () => sink.events.length >= TOTAL && sink.timeouts.length >= expected.unanswered.size,
    120_000,
  );
});

after(async () => {
  await service?.stop();
});

test('exactly one event per record: 10,000 events, no duplicates', () => {
  assert.equal(sink.events.length, TOTAL);
  const decoding = service.stats().ingestWorkers!;
  assert.ok(decoding.batches > 0 && decoding.failures === 0, JSON.stringify(decoding));
  assert.ok(decoding.recordsOnMainThread > 0, 'the Avro records were decoded on the main thread');
  const coordinates = new Set(sink.events.map((e) => `${e.topic}:${e.partition}:${e.offset}`));
  assert.equal(coordinates.size, TOTAL);
});

test('each event has the right kind and encoding', () => {
  const count = (predicate: (e: (typeof sink.events)[number]) => boolean) => sink.events.filter(predicate).length;
  assert.equal(
    count((e) => e.kind === 'request'),
    expected.requests,
  );
  assert.equal(
    count((e) => e.kind === 'result' || e.kind === 'error'),
    expected.answers,
  );
  assert.equal(
    count((e) => e.kind === 'error'),
    [...Array(TASK_COUNT).keys()].filter(isError).length,
  );
  assert.equal(
    count((e) => e.kind === 'status'),
    expected.status,
  );
  assert.equal(
    count((e) => e.encoding === 'opaque'),
    expected.garbage,
  );
  assert.equal(
    count((e) => e.encoding === 'avro'),
    sink.events.filter((e) => e.topic === TASKS && e.schemaId !== null).length,
  );
  assert.ok(count((e) => e.encoding === 'avro') >= 1300);
  assert.equal(
    count((e) => e.encoding === 'a2a-jsonrpc' && e.kind === 'request' && e.method === 'SendMessage'),
    1300 + [...Array(TASK_COUNT).keys()].filter((i) => formatOf(i) === 'a2a' && isRetried(i)).length,
  );
});

test('every answered request has its exact latency, on the answer or (read first) on the request', () => {
  const byTask = new Map<string, typeof sink.events>();
  for (const e of sink.events) if (e.taskId !== null) byTask.set(e.taskId, [...(byTask.get(e.taskId) ?? []), e]);
  for (const [taskId, latency] of expected.latency) {
    const events = byTask.get(taskId) ?? [];
    const answer = events.find((e) => e.kind === 'result' || e.kind === 'error')!;
    const lastRequest = events
      .filter((e) => e.kind === 'request')
      .sort((a, b) => a.timestamp - b.timestamp)
      .at(-1)!;
    assert.ok(
      answer.latencyMs === latency || lastRequest.latencyMs === latency,
      `latency of ${taskId}: answer ${answer.latencyMs}, last request ${lastRequest.latencyMs}, expected ${latency}`,
    );
    assert.equal(answer.timedOut, false);
  }
  const stats = service.stats().correlator;
  assert.deepEqual([stats.answered, stats.orphanAnswers, stats.pendingAnswers], [expected.answers, 0, 0]);
  process.stdout.write(
    `# mixed: ${stats.answersBeforeRequests} of ${stats.answered} answers were read before their request\n`,
  );
});

test('redelivered tasks carry their retry count, on the repeated request and on the answer', () => {
  const retriedRequests = sink.events.filter((e) => e.kind === 'request' && e.retries === 1);
  assert.deepEqual(new Set(retriedRequests.map((e) => e.taskId)), expected.retried);
  for (const answer of sink.events.filter(
    (e) => (e.kind === 'result' || e.kind === 'error') && expected.retried.has(e.taskId!) && e.latencyMs !== null,
  )) {
    assert.equal(answer.retries, 1, `answer of ${answer.taskId}, paired after both requests`);
  }
  assert.equal(service.stats().correlator.retries, expected.retried.size);
});

test('exactly the unanswered tasks time out', () => {
  assert.deepEqual(new Set(sink.timeouts.map((t) => t.taskId)), expected.unanswered);
  assert.equal(sink.timeouts.length, expected.unanswered.size);
});

test('every undecodable record is evented with a parseError and copied to the DLQ with its reason', async () => {
  const garbage = sink.events.filter((e) => e.encoding === 'opaque');
  for (const event of garbage) {
    assert.ok(event.parseError);
    assert.equal(event.dlqReason, event.headers['expected-reason']);
  }
  const consumer = kafka.consumer({ groupId: `dlq-reader-${run}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [`agentwatch.dlq.${run}`], fromBeginning: true });
  const reasons: string[] = [];
  const sources: string[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      reasons.push(message.headers?.[DLQ_HEADERS.reason]?.toString() ?? '?');
      sources.push(
        `${message.headers?.[DLQ_HEADERS.topic]?.toString()}:${message.headers?.[DLQ_HEADERS.offset]?.toString()}`,
      );
    },
  });
  await waitFor('the DLQ copies', () => reasons.length >= expected.garbage, 30_000);
  await consumer.disconnect();
  assert.equal(reasons.length, expected.garbage);
  for (const reason of ['invalid-json', 'invalid-utf8', 'unknown-schema', 'oversized']) {
    assert.equal(reasons.filter((r) => r === reason).length, 50, reason);
  }
  assert.deepEqual(new Set(sources), new Set(garbage.map((e) => `${e.topic}:${e.offset}`)));
});
