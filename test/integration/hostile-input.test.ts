// Hostile input kept in the suite: records of every awkward kind a producer can send, mixed with
// normal A2A traffic, on the real broker, with redaction configured (so AUDIT_UNPARSED_PAYLOAD
// defaults to hash-only), decoded on a worker thread. Nothing crashes, every record is one audit row, every dead record has one
// DLQ copy or reference, headers named like Object's properties survive, a planted secret is in no
// stored row, DLQ record or log line, and the API answers hostile queries without a 5xx.

import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Message } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { Service } from '../../src/service.js';
import {
  CollectingSink,
  connectedProducer,
  createTopics,
  isolatedOverrides,
  runId,
  testKafka,
  waitFor,
} from './harness.js';
import { stackConfig } from '../../bench/local-stack.js';

const run = runId();
const TASKS = `agent.tasks.hostile-${run}`;
const RESULTS = `agent.results.hostile-${run}`;
const SECRET = `hunter2-${run}`;
const KEY = 'hostile-admin-key-0123456789';
const PAYLOAD_LIMIT = 65_536;
const kafka = testKafka();
const sink = new CollectingSink();
const logFile = join(mkdtempSync(join(tmpdir(), 'aw-hostile-')), 'agentwatch.log');
let service: Service;

const BINARY_KEY = Buffer.from([0x80, 0x81, 0xff, 0x00]);
const BINARY_HEADER = Buffer.from([0xc3, 0x28, 0x00, 0xff]);

/** Each kind: a name, and records (value, key, headers, timestamp) it produces. */
const NOW = Date.now();
const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const kinds: Array<[string, () => Message]> = [
  ['random bytes', () => ({ value: Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256)) })],
  ['invalid UTF-8', () => ({ value: Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0x7d]) })],
  ['truncated JSON with a secret', () => ({ value: `{"workflow_id": "wf-t", "password": "${SECRET}", "params": ` })],
  ['100,000-deep JSON', () => ({ value: deep(100_000) })],
  [
    'a secret to redact beside 100,000-deep JSON',
    () => ({ value: `{"workflow_id": "wf-deep", "password": "${SECRET}", "d": ${deep(100_000)}}` }),
  ],
  ['NaN and 1e400', () => ({ value: '{"workflow_id": "wf-n", "x": NaN, "y": 1e400}' })],
  ['1e400 alone', () => ({ value: '{"workflow_id": "wf-big-number", "y": 1e400}' })],
  ['duplicate keys', () => ({ value: '{"workflow_id": "a", "workflow_id": "b", "task_id": "t", "task_id": 7}' })],
  [
    'prototype keys',
    () => ({
      value: '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}, "workflow_id": "wf-p"}',
    }),
  ],
  ['wrong JSON-RPC types', () => ({ value: '{"jsonrpc": 2, "id": {"a": 1}, "method": 42, "params": "nope"}' })],
  ['JSON-RPC without params', () => ({ value: '{"jsonrpc": "2.0", "id": 1, "method": "message/send"}' })],
  ['unknown schema id', () => ({ value: Buffer.from([0, 0x7f, 0xff, 0xff, 0xfe, 1, 2, 3]) })],
  ['garbage after a schema-id frame', () => ({ value: Buffer.from([0, 0, 0, 0, 0]) })],
  ['tombstone', () => ({ value: null })],
  ['empty value', () => ({ value: Buffer.alloc(0) })],
  ['null key', () => ({ key: null, value: '{"workflow_id": "wf-null-key", "task_id": "k"}' })],
  ['binary key', () => ({ key: Buffer.from([0xff, 0x00, 0xfe]), value: '{"workflow_id": "wf-bin-key"}' })],
  ['huge header', () => ({ value: '{"workflow_id": "wf-h"}', headers: { big: 'h'.repeat(200_000) } })],
  [
    'binary key and header values, a repeated header',
    () => ({
      key: BINARY_KEY,
      value: '{"workflow_id": "wf-bin-h"}',
      headers: { zz: BINARY_HEADER, rep: [Buffer.from([1]), Buffer.from([0xfe, 0x00])] },
    }),
  ],
  [
    'prototype-named headers',
    () => ({
      value: '{"workflow_id": "wf-ph"}',
      headers: { ['__proto__']: 'p', ['constructor']: 'c', ['toString']: 't' },
    }),
  ],
  [
    'value at the payload limit',
    () => ({
      value: `{"workflow_id": "wf-l", "p": "${'x'.repeat(PAYLOAD_LIMIT - 30)}"}`.slice(0, PAYLOAD_LIMIT - 1) + '}',
    }),
  ],
  [
    'value over the payload limit, with a secret',
    () => ({ value: `{"password": "${SECRET}", "p": "${'x'.repeat(PAYLOAD_LIMIT)}"}` }),
  ],
  ['value over the DLQ topic limit', () => ({ value: `{"p": "${'y'.repeat(1_100_000)}"` })],
  ['timestamp 1970', () => ({ value: '{"workflow_id": "wf-1970", "task_id": "old"}', timestamp: '1' })],
  [
    'timestamp 2100',
    () => ({ value: '{"workflow_id": "wf-2100", "task_id": "future"}', timestamp: String(Date.parse('2100-01-01')) }),
  ],
  [
    'redacted secret in A2A text',
    () => ({
      value: JSON.stringify({
        jsonrpc: '2.0',
        id: 'r',
        method: 'message/send',
        params: {
          message: { role: 'user', messageId: 'm', parts: [{ kind: 'text', text: SECRET }] },
          metadata: { workflow_id: 'wf-s' },
        },
      }),
    }),
  ],
];
const PER_KIND = 20;
const NORMAL = 400;

before(async () => {
  await createTopics(kafka, [
    { topic: TASKS, numPartitions: 3, configEntries: [{ name: 'max.message.bytes', value: '4194304' }] },
    { topic: RESULTS, numPartitions: 2 },
  ]);
  const config = stackConfig(
    isolatedOverrides(run, {
      AUDIT_REDACT_PATHS: 'password,params.message.parts.*.text',
      INGEST_MAX_PAYLOAD_BYTES: String(PAYLOAD_LIMIT),
      API_KEYS: `root:admin:${KEY}`,
      LOG_LEVEL: 'debug',
      // Decoded on a worker thread, which also writes the rows' tails with redaction applied:
      // hostile values cross the hand-off (the rest of the suite decodes on the main thread).
      INGEST_WORKERS: '1',
    }),
  );
  service = await Service.start(config, createLogger('debug', logFile), { extraSinks: [sink] });
});

after(async () => {
  await service?.stop();
});

test('hostile records mixed with normal traffic: no crash, one row per record, one DLQ record per dead one, no secret kept, no 5xx', async () => {
  const producer = await connectedProducer(kafka);
  let produced = 0;
  try {
    for (let round = 0; round < PER_KIND; round += 1) {
      const messages = kinds.map(([, make]) => ({ key: `wf-${round}`, timestamp: String(NOW), ...make() }));
      for (const message of messages) await producer.send({ topic: TASKS, messages: [message] });
      produced += messages.length;
    }
    for (let i = 0; i < NORMAL; i += 200) {
      const batch = Array.from({ length: 200 }, (_, j) => ({
        key: `wf-${i + j}`,
        value: JSON.stringify({
          jsonrpc: '2.0',
          id: `t-${i + j}`,
          method: 'message/send',
          params: {
            message: { role: 'user', messageId: `m-${i + j}`, parts: [{ kind: 'text', text: 'hi' }] },
            metadata: { workflow_id: `wf-${i + j}` },
          },
        }),
      }));
      await producer.send({ topic: TASKS, messages: batch });
      await producer.send({
        topic: RESULTS,
        messages: batch.map((m, j) => ({
          key: m.key,
          value: JSON.stringify({
            jsonrpc: '2.0',
            id: `t-${i + j}`,
            result: { kind: 'task', id: `task-${i + j}`, contextId: 'c', status: { state: 'completed' } },
          }),
        })),
      });
      produced += 400;
    }
  } finally {
    await producer.disconnect();
  }

  await waitFor('every record audited', () => service.stats().audit.rowsWritten === produced, 120_000);
  const decoding = service.stats().ingestWorkers!;
  assert.ok(decoding.batches > 0 && decoding.failures === 0, JSON.stringify(decoding));
  const metrics = await (
    await fetch(`${service.apiUrl}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })
  ).text();
  assert.match(metrics, new RegExp(`^agentwatch_ingest_worker_batches_total ${decoding.batches}$`, 'm'));
  assert.match(metrics, /^agentwatch_ingest_worker_failures_total 0$/m);
  assert.equal(sink.events.length, produced, 'one event per record');

  // Every dead record: one DLQ copy or reference.
  const dead = sink.events.filter((e) => e.dlqReason !== null);
  const dlq: Message[] = [];
  const consumer = kafka.consumer({ groupId: `hostile-dlq-${run}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [`agentwatch.dlq.${run}`], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void dlq.push(message as unknown as Message) });
  try {
    await waitFor('every DLQ record', () => dlq.length >= dead.length, 30_000);
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    await consumer.disconnect();
  }
  assert.equal(dlq.length, dead.length, 'one DLQ copy or reference per dead record');
  const coordinates = new Set(
    dlq.map((m) => `${String(m.headers?.[DLQ_HEADERS.partition])}:${String(m.headers?.[DLQ_HEADERS.offset])}`),
  );
  assert.equal(coordinates.size, dead.length, 'no dead record copied twice');

  // Rows in the store: as many as records; the planted secret nowhere.
  const rows = await (
    await service.clickhouse.query({
      query: `SELECT * FROM audit_events WHERE topic IN ('${TASKS}', '${RESULTS}')`,
      format: 'JSONEachRow',
    })
  ).text();
  assert.equal(rows.trim().split('\n').length, produced);
  assert.ok(!rows.includes(SECRET), 'the secret is in no stored row');
  assert.ok(!rows.includes('"base64"'), 'no unparsed value stored as bytes under hash-only');
  for (const message of dlq) {
    assert.ok(
      !String(message.value ?? '').includes(SECRET) && !JSON.stringify(message.headers ?? {}).includes(SECRET),
      'the secret is in no DLQ record',
    );
  }
  const protoRow = sink.events.find((e) => e.workflowId === 'wf-ph');
  assert.deepEqual(
    Object.keys(protoRow!.headers).sort(),
    ['__proto__', 'constructor', 'toString'],
    'prototype-named headers kept',
  );
  const storedProto = rows.split('\n').find((line) => line.includes('"wf-ph"'));
  assert.match(storedProto ?? '', /"__proto__":"p"/, `and stored: ${storedProto?.slice(0, 400)}`);
  // Keys and header values round-trip byte-exact through the store and the export (format=chain).
  const exported = async (workflowId: string) =>
    (
      await (
        await fetch(`${service.apiUrl}/v1/audit/export?format=chain&workflowId=${workflowId}`, {
          headers: { authorization: `Bearer ${KEY}` },
        })
      ).text()
    )
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { key_base64: string; headers_base64: Array<[string, string]> });
  const binary = await exported('wf-bin-h');
  assert.ok(binary.length >= 1);
  for (const row of binary) {
    assert.deepEqual(Buffer.from(row.key_base64, 'base64'), BINARY_KEY, 'the key as sent');
    assert.deepEqual(
      row.headers_base64.map(([name, value]) => [name, [...Buffer.from(value, 'base64')]]),
      [
        ['rep', [1]],
        ['rep', [0xfe, 0x00]],
        ['zz', [...BINARY_HEADER]],
      ],
      'header values as sent, a repeated header once per value, sorted by name',
    );
  }
  for (const row of await exported('wf-bin-key'))
    assert.deepEqual(Buffer.from(row.key_base64, 'base64'), Buffer.from([0xff, 0x00, 0xfe]));
  for (const row of await exported('wf-ph'))
    assert.deepEqual(
      row.headers_base64.map(([name, value]) => [name, Buffer.from(value, 'base64').toString()]),
      [
        ['__proto__', 'p'],
        ['constructor', 'c'],
        ['toString', 't'],
      ],
    );

  // The API under hostile queries: 4xx, never 5xx.
  const probes = [
    '/v1/audit/events?cursor=Wy0xLCAidCIsIC0xLCAiMSJd',
    '/v1/audit/events?cursor=%00%01',
    `/v1/audit/events?workflowId=${encodeURIComponent("' OR 1=1 --")}`,
    `/v1/audit/events?workflowId=${'w'.repeat(10_000)}`,
    `/v1/workflows/${encodeURIComponent('wf-ph')}/timeline`,
    `/v1/workflows/${encodeURIComponent('../../etc/passwd')}/timeline`,
    `/v1/workflows/${'x'.repeat(600)}/timeline`,
    '/v1/audit/events?limit=-1',
    '/v1/audit/events?from=1e400',
    '/v1/audit/verify?topic=x&partition=99999999999',
    '/v1/anomalies?agent=%F0%9F%98%80&state=FIRING',
    '/v1/audit/export?format=../../x',
  ];
  for (const probe of probes) {
    const response = await fetch(`${service.apiUrl}${probe}`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.ok(response.status < 500, `${probe}: ${response.status} ${await response.text()}`);
  }

  const log = readFileSync(logFile, 'utf8');
  assert.ok(!log.includes(SECRET), 'the secret is in no log line');
  const rss = process.memoryUsage().rss;
  console.log(
    `# hostile input: ${produced} records (${kinds.length} kinds × ${PER_KIND} + ${NORMAL * 2} normal), ${dead.length} dead, RSS ${(rss / 1e6).toFixed(0)} MB`,
  );
  assert.ok(rss < 2e9, `RSS ${rss} bytes`);
});
