// Ingest workers give, field for field and in the same order, the events the main thread gives, and
// the same audit rows (hashed columns, byte for byte, with and without redaction): through the
// packed hand-off alone, and through real worker threads, including a worker that dies while it
// holds a batch.

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
import { ingestBatch, IngestWorkers } from '../../src/ingest-workers.js';
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

function decoder(keepJsonBody: boolean): RecordDecoder {
  return new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes: MAX_PAYLOAD, keepJsonBody });
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
 * The events are the main thread's, field for field and in the same order, except that those from
 * a worker carry their row tail (`onMainThread`: the indices decoded on the main thread), and they
 * give the main thread's rows byte for byte.
 */
function assertSameEvents(
  actual: AgentEvent[],
  expected: AgentEvent[],
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
    assert.deepEqual({ ...actual[i]!, auditRowTail: null }, expected[i], `event ${i}`);
  }
  assert.deepEqual(hashedRows(actual, redact, true), hashedRows(expected, redact, false), 'the same audit rows');
}

for (const [n, { paths, unparsed }] of REDACTIONS.entries()) {
  const sendBodies = n === 1; // the bodies are sent back (an events file), or not
  const redact = createRedactor(paths, unparsed);
  const settings = { maxPayloadBytes: MAX_PAYLOAD, sendBodies, redactPaths: paths, unparsedPayload: unparsed };

  test(`the packed hand-off gives the main thread's events and rows (redaction ${n})`, async () => {
    const all = records().slice(0, -1); // the framed record never goes to a worker
    const expected = await decoder(true).decode(all);
    const facts = ingestBatch(packRecords(TOPIC, all), { decoder: decoder(false), redact, sendBodies });
    const actual = eventsFromFacts(all, facts);
    // The rows are compared with the bodies; without an events file the worker's events carry none.
    assert.deepEqual(hashedRows(actual, redact, true), hashedRows(expected, redact, false), 'the same audit rows');
    if (!sendBodies) for (const event of expected) event.body = null;
    assertSameEvents(actual, expected, redact);
    assert.ok(expected.some((e) => e.encoding === 'a2a-jsonrpc') && expected.some((e) => e.dlqReason !== null));
    assert.equal(expected[2]!.producer, 'worker-7');
    assert.equal(expected[2]!.attempt, 3);
  });

  test(`ingest workers give the main thread's events and rows, framed records decoded on the main thread (redaction ${n})`, async () => {
    const all = records();
    const expected = await decoder(true).decode(all);
    const rows = hashedRows(expected, redact, false);
    const workers = new IngestWorkers(decoder(true), { workers: 2, ...settings }, createLogger('error'));
    try {
      const actual = await workers.decode(all);
      assert.deepEqual(hashedRows(actual, redact, true), rows, 'the same audit rows');
      if (!sendBodies) for (const [i, event] of expected.entries()) if (i < all.length - 1) event.body = null;
      assertSameEvents(actual, expected, redact, new Set([all.length - 1]));
      assertSameEvents(await workers.decode(all.slice(0, 3)), expected.slice(0, 3), redact);
      assert.deepEqual(workers.stats(), { batches: 2, recordsOnMainThread: 1, failures: 0 });
    } finally {
      await workers.close();
    }
  });
}

test('an ingest worker that dies while it holds a batch: the batch is decoded on the main thread, the next on a new worker', async () => {
  const all = records().slice(0, -1);
  const expected = await decoder(false).decode(all);
  const redact = createRedactor([]);
  const workers = new IngestWorkers(
    decoder(false),
    { workers: 1, maxPayloadBytes: MAX_PAYLOAD, sendBodies: false, redactPaths: [], unparsedPayload: 'store' },
    createLogger('error'),
  );
  try {
    const decoding = workers.decode(all);
    const threads = (workers as unknown as { threads: Array<{ worker: { terminate(): Promise<number> } }> }).threads;
    await threads[0]!.worker.terminate();
    assert.deepEqual(await decoding, expected, 'decoded on the main thread: no row tails');
    assert.deepEqual(workers.stats(), { batches: 0, recordsOnMainThread: all.length, failures: 1 });
    assertSameEvents(await workers.decode(all), expected, redact);
    assert.equal(workers.stats().batches, 1, 'a new worker decoded the next batch');
  } finally {
    await workers.close();
  }
});
