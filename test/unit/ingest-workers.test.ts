// Ingest workers give, field for field and in the same order, the events the main thread gives (but
// for the JSON body, which stays on the worker), and the same audit rows (hashed columns, byte for
// byte, with and without redaction): through the packed hand-off alone, and through real worker
// threads, including workers that die while they hold a batch.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  auditRowValues,
  createRedactor,
  RowBinaryWriter,
  writeEventHashedColumns,
  writeHashedColumns,
  type Redactor,
} from '../../src/audit/index.js';
import type { UnparsedPayloadPolicy } from '../../src/config/index.js';
import {
  eventsFromFacts,
  packRecords,
  RecordDecoder,
  type AgentEvent,
  type KafkaRecord,
} from '../../src/decode/index.js';
import { FAILURES_BEFORE_GIVING_UP, ingestBatch, IngestWorkers } from '../../src/ingest-workers.js';
import { createLogger } from '../../src/logger.js';
import { a2aSendMessage, a2aTaskCompleted } from '../../src/sim/a2a-messages.js';

const TOPIC = 'agent.tasks.summarize';
const MAX_PAYLOAD = 4096;

function headers(entries: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, entries);
}

/** Records of every kind the decoder tells apart, as the tap makes them. */
function records(): KafkaRecord[] {
  const ids = { workflowId: 'wf-1', taskId: 'task-1', rpcId: 'rpc-1', messageId: 'msg-1' };
  const values: Array<{
    value: Buffer | null;
    key?: Buffer | null;
    headers?: Record<string, string>;
    pairs?: Array<readonly [string, Buffer]>;
  }> = [
    { value: Buffer.from(a2aSendMessage(ids, 'summarize', 1, 'text with \u0000 and ünïcødé 🚀')) },
    { value: Buffer.from(a2aTaskCompleted(ids, 'done')) },
    {
      value: Buffer.from(JSON.stringify({ task_id: 'task-2', workflow_id: 'wf-2', status: 'failed', error: 'boom' })),
      headers: headers({ 'agent-id': 'worker-7', 'a2a-attempt': '3', __proto__: 'x', constructor: 'y,z' }),
      pairs: [
        ['agent-id', Buffer.from('worker-7')],
        ['a2a-attempt', Buffer.from('3')],
        ['__proto__', Buffer.from('x')],
        ['constructor', Buffer.from('y')],
        ['constructor', Buffer.from('z')],
      ],
    },
    { value: null }, // tombstone
    { value: Buffer.alloc(0) },
    { value: Buffer.from('{"task_id": "t", ') }, // invalid JSON
    { value: Buffer.from([0xff, 0xfe, 0x7b]) }, // invalid UTF-8
    { value: Buffer.from('x'.repeat(MAX_PAYLOAD + 1)) }, // oversized
    { value: Buffer.from('[1, 2, 3]') },
    { value: Buffer.from('{"id": 1}'), key: null },
    { value: Buffer.from('{"workflow_id": "wf-3"}'), key: Buffer.from([0xc3, 0x28, 0x41]) }, // a key that is not UTF-8
    { value: Buffer.from([0, 0, 0, 0, 42, 2, 4]) }, // Confluent-framed: decoded on the main thread
  ];
  return values.map(({ value, key, headers: h, pairs }, i) => {
    const keyBytes = key === undefined ? Buffer.from(`wf-${i}`) : key;
    return {
      topic: TOPIC,
      partition: 3,
      offset: String(100 + i),
      timestamp: 1_700_000_000_000 + i,
      key: keyBytes === null ? null : keyBytes.toString('utf8'),
      keyBytes,
      headers: h ?? headers({}),
      ...(pairs === undefined ? {} : { headerPairs: pairs }),
      value,
    };
  });
}

function decoder(keepJsonBody: boolean, maxPayloadBytes = MAX_PAYLOAD): RecordDecoder {
  return new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes, keepJsonBody });
}

/** No redaction, or redaction as the hostile-input test configures it (with hash-only for unparsed values). */
const REDACTIONS: Array<{ paths: string[]; unparsed: UnparsedPayloadPolicy }> = [
  { paths: [], unparsed: 'store' },
  { paths: ['password', 'params.message.parts.*.text', 'error'], unparsed: 'hash-only' },
];

/** The hashed columns of each event's row, chained after offset 99. */
function hashedRows(events: AgentEvent[], redact: Redactor, viaTail: boolean): Buffer[] {
  return events.map((event) => {
    const out = new RowBinaryWriter();
    if (viaTail) writeEventHashedColumns(out, event, '99', redact);
    else writeHashedColumns(out, auditRowValues(event, '99', redact));
    return Buffer.from(out.bytes());
  });
}

/**
 * The events are the main thread's without their bodies (`expected`), field for field and in the
 * same order, except that those from a worker carry their row tail (`onMainThread`: the indices
 * decoded on the main thread); and they give the rows of the main thread's events with their
 * bodies (`withBodies`, which redaction reads), byte for byte.
 */
function assertSameEvents(
  actual: AgentEvent[],
  expected: AgentEvent[],
  withBodies: AgentEvent[],
  redact: Redactor,
  onMainThread = new Set<number>(),
): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i += 1) {
    assert.deepEqual(
      Object.keys(actual[i]!),
      Object.keys(expected[i]!),
      `event ${i}: the same fields in the same order`,
    );
    assert.equal(
      actual[i]!.auditRowTail === null,
      onMainThread.has(i),
      `event ${i}: a row tail unless decoded on the main thread`,
    );
    const body = onMainThread.has(i) ? actual[i]!.body : null;
    assert.deepEqual({ ...actual[i]!, auditRowTail: null }, { ...expected[i]!, body }, `event ${i}`);
  }
  assert.deepEqual(hashedRows(actual, redact, true), hashedRows(withBodies, redact, false), 'the same audit rows');
}

function workersFor(
  count: number,
  paths: string[],
  unparsed: UnparsedPayloadPolicy,
  maxPayloadBytes = MAX_PAYLOAD,
): IngestWorkers {
  return new IngestWorkers(
    decoder(paths.length > 0, maxPayloadBytes),
    { workers: count, maxPayloadBytes, redactPaths: paths, unparsedPayload: unparsed },
    createLogger('fatal'),
  );
}

/** The worker slots, to terminate one while it holds a batch (a failure from outside). */
function threadsOf(workers: IngestWorkers): Array<{ worker: { terminate(): Promise<number> } } | undefined> {
  return (workers as unknown as { threads: Array<{ worker: { terminate(): Promise<number> } } | undefined> }).threads;
}

for (const [n, { paths, unparsed }] of REDACTIONS.entries()) {
  const redact = createRedactor(paths, unparsed);

  test(`the packed hand-off gives the main thread's events and rows (redaction ${n})`, async () => {
    const all = records().slice(0, -1); // the framed record never goes to a worker
    const withBodies = await decoder(true).decode(all);
    const expected = await decoder(false).decode(all);
    const facts = ingestBatch(packRecords(TOPIC, all), { decoder: decoder(false), redact });
    assertSameEvents(eventsFromFacts(all, facts), expected, withBodies, redact);
    assert.ok(expected.some((e) => e.encoding === 'a2a-jsonrpc') && expected.some((e) => e.dlqReason !== null));
    assert.equal(expected[2]!.producer, 'worker-7');
    assert.equal(expected[2]!.attempt, 3);
  });

  test(`ingest workers give the main thread's events and rows, framed records decoded on the main thread (redaction ${n})`, async () => {
    const all = records();
    const withBodies = await decoder(true).decode(all);
    const expected = await decoder(false).decode(all);
    const workers = workersFor(2, paths, unparsed);
    try {
      assertSameEvents(await workers.decode(all), expected, withBodies, redact, new Set([all.length - 1]));
      assertSameEvents(await workers.decode(all.slice(0, 3)), expected.slice(0, 3), withBodies.slice(0, 3), redact);
      assert.deepEqual(workers.stats(), { batches: 2, recordsOnMainThread: 1, failures: 0, gaveUp: false });
    } finally {
      await workers.close();
    }
  });
}

test('the same rows on either thread for a body nested deeper than the main thread can serialise, and for an attempt beyond 32 bits', async () => {
  const deep = `{"password": "x", "task_id": "t-deep", "a": ${'['.repeat(8_000)}1${']'.repeat(8_000)}}`;
  const all: KafkaRecord[] = [
    { topic: TOPIC, partition: 0, offset: '1', timestamp: 1, key: 'k', headers: headers({}), value: Buffer.from(deep) },
    {
      topic: TOPIC,
      partition: 0,
      offset: '2',
      timestamp: 2,
      key: 'k',
      headers: headers({ 'a2a-attempt': '4294967297' }),
      value: Buffer.from('{"task_id": "t-big"}'),
    },
  ];
  const redact = createRedactor(['password'], 'store');
  const withBodies = await decoder(true, 1 << 20).decode(all);
  const expected = await decoder(false, 1 << 20).decode(all);
  assert.equal(expected[0]!.encoding, 'json');
  assert.equal(expected[1]!.attempt, 4_294_967_297);
  const workers = workersFor(1, ['password'], 'store', 1 << 20);
  try {
    const actual = await workers.decode(all);
    assertSameEvents(actual, expected, withBodies, redact);
    const row = hashedRows(actual, redact, true)[0]!.toString('latin1');
    assert.ok(row.endsWith('sha256'), 'stored as its SHA-256, past the nesting limit, on both threads');
  } finally {
    await workers.close();
  }
});

test('header values that are views into a large fetch buffer are copied alone, not with their buffer', () => {
  const fetched = Buffer.alloc(4 << 20, 0x61); // a kafkajs fetch response
  const record: KafkaRecord = {
    topic: TOPIC,
    partition: 0,
    offset: '1',
    timestamp: 1,
    key: 'k',
    keyBytes: fetched.subarray(0, 1),
    headers: headers({ 'agent-id': 'aaaa' }),
    headerPairs: [['agent-id', fetched.subarray(10, 14)]],
    value: fetched.subarray(100, 120),
  };
  const packed = packRecords(TOPIC, [record]);
  assert.equal(packed.bytes.byteLength, 1 + 20 + 'agent-id'.length + 4);
  assert.deepEqual(packed.headers, [[0, headers({ 'agent-id': 'aaaa' })]], 'only texts go by structured clone');
});

test('an ingest worker that dies while it holds a batch: the batch is decoded on the main thread, the next on a new worker', async () => {
  const all = records().slice(0, -1);
  const expected = await decoder(false).decode(all);
  const redact = createRedactor([]);
  const workers = workersFor(1, [], 'store');
  try {
    const decoding = workers.decode(all);
    await threadsOf(workers)[0]!.worker.terminate();
    assert.deepEqual(await decoding, expected, 'decoded on the main thread: no row tails');
    assert.deepEqual(workers.stats(), { batches: 0, recordsOnMainThread: all.length, failures: 1, gaveUp: false });
    assertSameEvents(await workers.decode(all), expected, expected, redact);
    assert.equal(workers.stats().batches, 1, 'a new worker decoded the next batch');
  } finally {
    await workers.close();
  }
});

test(`workers that fail ${FAILURES_BEFORE_GIVING_UP} times in a row are given up: everything is decoded on the main thread`, async () => {
  const all = records().slice(0, -1);
  const expected = await decoder(false).decode(all);
  const workers = workersFor(1, [], 'store');
  try {
    for (let i = 0; i < FAILURES_BEFORE_GIVING_UP; i += 1) {
      const decoding = workers.decode(all);
      await threadsOf(workers)[0]!.worker.terminate();
      assert.deepEqual(await decoding, expected);
    }
    assert.equal(workers.stats().gaveUp, true);
    assert.deepEqual(await workers.decode(all), expected, 'decoded on the main thread');
    assert.deepEqual(threadsOf(workers), [], 'no worker started again');
    assert.equal(workers.stats().failures, FAILURES_BEFORE_GIVING_UP);
  } finally {
    await workers.close();
  }
});
