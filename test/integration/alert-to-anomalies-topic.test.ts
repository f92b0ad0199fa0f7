// An anomaly detected from traffic on the real broker lands on the anomalies topic as Avro, and a
// plain kafkajs consumer decodes it with @kafkajs/confluent-schema-registry. Event time comes from
// record timestamps: 60 one-second windows are produced at once, nothing waits on the clock. The
// alert names example tasks of its window, and the schema stays compatible with its previous version
// in the real registry.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { AnomalyAlert } from '../../src/detect/index.js';
import type { Service } from '../../src/service.js';
import { seededRandom } from '../../src/sim/index.js';
import {
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
const agent = `scan-${run}`;
const TASKS = `agent.tasks.${agent}`;
const RESULTS = `agent.results.${agent}`;
const ANOMALIES = `agentwatch-test.anomalies.${run}`;
const WINDOW = 1_000;
const T0 = Date.now() - 3_600_000 - ((Date.now() - 3_600_000) % WINDOW);
const SPIKE_FROM = 40;
const kafka = testKafka();
let service: Service;
const streamed: AnomalyAlert[] = [];

before(async () => {
  await createTopics(kafka, [
    { topic: TASKS, numPartitions: 1 },
    { topic: RESULTS, numPartitions: 1 },
  ]);
  const random = seededRandom(42);
  const requests = [];
  const results = [];
  for (let w = 0; w < 50; w += 1) {
    for (let r = 0; r < 20; r += 1) {
      const at = T0 + w * WINDOW + Math.floor(random.uniform() * WINDOW);
      const taskId = `${run}-${w}-${r}`;
      const latency = Math.round((w >= SPIKE_FROM ? 2_000 : 100) * Math.exp(0.2 * random.normal()));
      requests.push({
        key: 'wf',
        timestamp: String(at),
        value: JSON.stringify({
          workflow_id: 'wf',
          task_type: agent,
          task_id: taskId,
          payload: { doc: 'x'.repeat(150) },
        }),
      });
      results.push({
        key: 'wf',
        timestamp: String(at + latency),
        value: JSON.stringify({ workflow_id: 'wf', task_id: taskId, result: 'y'.repeat(300) }),
      });
    }
  }
  // Late records on both partitions move event time past the last window.
  const end = String(T0 + 70 * WINDOW);
  requests.push({ key: 'wf', timestamp: end, value: '{"type":"heartbeat"}' });
  results.push({ key: 'wf', timestamp: end, value: '{"type":"heartbeat"}' });
  const producer = await connectedProducer(kafka);
  await producer.send({ topic: TASKS, messages: requests });
  await producer.send({ topic: RESULTS, messages: results.sort((a, b) => Number(a.timestamp) - Number(b.timestamp)) });
  await producer.disconnect();

  service = await startService(
    isolatedOverrides(run, {
      ANOMALIES_TOPIC: ANOMALIES,
      DETECT_WINDOW_MS: String(WINDOW),
      DETECT_LATENESS_MS: '0',
      DETECT_WARMUP_WINDOWS: '10',
    }),
    [],
  );
  service.alerts.subscribe((alert) => streamed.push(alert));
});

after(async () => {
  await service?.stop();
});

test('the latency spike is published to the anomalies topic as registered Avro, keyed by agent', async () => {
  await waitFor('an alert on the live stream', () => streamed.some((a) => a.state === 'FIRING'), 60_000);
  const registry = new SchemaRegistry({ host: stackConfig().schemaRegistry.url });
  const consumer = kafka.consumer({ groupId: `anomaly-reader-${run}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [ANOMALIES], fromBeginning: true });
  const received: Array<{ key: string; value: Record<string, unknown> }> = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      received.push({
        key: message.key?.toString() ?? '',
        value: { ...(await registry.decode(message.value!)) } as Record<string, unknown>,
      });
    },
  });
  await waitFor('the alert on the anomalies topic', () => received.length >= 1, 30_000);
  await consumer.disconnect();

  const firing = received.find((m) => m.value.state === 'FIRING')!;
  assert.ok(firing, 'a FIRING alert was published');
  assert.equal(firing.key, agent);
  assert.equal(firing.value.agent, agent);
  const features = firing.value.features as Array<{
    name: string;
    contribution: number;
    value: number | null;
    baseline_mean: number;
  }>;
  assert.match(
    features[0]!.name,
    /^latency_p(50|95)$/,
    `top contributor ${features[0]!.name}: ${JSON.stringify(service.stats().pipeline)} ${JSON.stringify(service.stats().detector)}`,
  );
  assert.ok(Number(firing.value.score) > Number(firing.value.threshold));
  assert.ok(Number(firing.value.window_start) >= T0 + SPIKE_FROM * WINDOW, 'not before the spike');
  assert.ok(Number(firing.value.window_start) <= T0 + (SPIKE_FROM + 2) * WINDOW, 'within 2 windows of the onset');
  const sum = features.reduce((s, f) => s + f.contribution, 0);
  assert.ok(Math.abs(sum - Number(firing.value.score)) < 1e-6 * Number(firing.value.score));
  assert.equal(
    firing.value.alert_id,
    streamed.find((a) => a.state === 'FIRING')!.alertId,
    'the live stream saw the same alert',
  );
  assert.deepEqual(
    received.filter((m) => m.value.agent !== agent),
    [],
    'no alert for anything else',
  );
  // Example tasks of the window: the slowest, from the spike, with their workflow (for the timeline).
  const examples = firing.value.examples as Array<{
    task_id: string;
    workflow_id: string;
    reason: string;
    latency_ms: number;
  }>;
  assert.ok(examples.length >= 1 && examples.length <= 5, JSON.stringify(examples));
  // The slow answers first; then other tasks of the window (requests whose answers are still due).
  assert.equal(examples[0]!.reason, 'slow', JSON.stringify(examples));
  assert.ok(examples[0]!.latency_ms >= 1_000, `a slow task first: ${JSON.stringify(examples)}`);
  for (const example of examples) {
    assert.ok(['slow', 'seen'].includes(example.reason), JSON.stringify(example));
    assert.equal(example.workflow_id, 'wf');
    const window = Number(/-(\d+)-\d+$/.exec(example.task_id)?.[1]);
    assert.ok(window >= SPIKE_FROM, `from the spike: ${example.task_id}`);
  }
  const slow = examples.filter((e) => e.reason === 'slow').map((e) => e.latency_ms);
  assert.deepEqual(
    slow,
    [...slow].sort((a, b) => b - a),
    'the slowest first',
  );
  const stored = await (
    await service.clickhouse.query({
      query: 'SELECT examples FROM anomalies WHERE alert_id = {id:String} AND state = {state:String}',
      query_params: { id: String(firing.value.alert_id), state: 'FIRING' },
      format: 'JSONEachRow',
    })
  ).json<{ examples: string }>();
  assert.deepEqual(
    (JSON.parse(stored[0]!.examples) as Array<{ taskId: string }>).map((e) => e.taskId),
    examples.map((e) => e.task_id),
    'stored with the alert',
  );
});

test('the alert schema is backward compatible with its previous version in the registry', async () => {
  const url = stackConfig().schemaRegistry.url;
  const subject = `agentwatch-test-compat-${run}-value`;
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
    return (await response.json()) as Record<string, unknown>;
  };
  await call('POST', `/subjects/${subject}/versions`, {
    schema: readFileSync(join(repoRoot, 'test/fixtures/anomaly-alert-before-examples.avsc'), 'utf8'),
  });
  await call('PUT', `/config/${subject}`, { compatibility: 'BACKWARD' });
  const current = readFileSync(join(repoRoot, 'schemas/anomaly-alert.avsc'), 'utf8');
  const verdict = await call('POST', `/compatibility/subjects/${subject}/versions/latest`, { schema: current });
  assert.equal(verdict.is_compatible, true, JSON.stringify(verdict));
  // The check can fail: a new field without a default is not backward compatible.
  const parsed = JSON.parse(current) as { fields: unknown[] };
  parsed.fields.push({ name: 'required_without_default', type: 'string' });
  const broken = await call('POST', `/compatibility/subjects/${subject}/versions/latest`, {
    schema: JSON.stringify(parsed),
  });
  assert.equal(broken.is_compatible, false, JSON.stringify(broken));
  await call('POST', `/subjects/${subject}/versions`, { schema: current });
});
