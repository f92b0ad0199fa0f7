// Decoding on worker threads gives, field for field and in the same order, the events the main
// thread gives: through the packed hand-off alone, and through real worker threads, including a
// worker that dies while it holds a batch.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecodeWorkers, RecordDecoder, type AgentEvent, type KafkaRecord } from '../../../src/decode/index.js';
import { eventsFromFacts, packFacts, packRecords, unpackRecords } from '../../../src/decode/packed-batch.js';
import { createLogger } from '../../../src/logger.js';
import { a2aSendMessage, a2aTaskCompleted } from '../../../src/sim/a2a-messages.js';

const TOPIC = 'agent.tasks.summarize';
const MAX_PAYLOAD = 4096;

function headers(entries: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, entries);
}

/** Records of every kind the decoder tells apart, as the tap makes them. */
function records(): KafkaRecord[] {
  const ids = { workflowId: 'wf-1', taskId: 'task-1', rpcId: 'rpc-1', messageId: 'msg-1' };
  const values: Array<{ value: Buffer | null; key?: Buffer | null; headers?: Record<string, string> }> = [
    { value: Buffer.from(a2aSendMessage(ids, 'summarize', 1, 'text with \u0000 and ünïcødé 🚀')) },
    { value: Buffer.from(a2aTaskCompleted(ids, 'done')) },
    {
      value: Buffer.from(JSON.stringify({ task_id: 'task-2', workflow_id: 'wf-2', status: 'failed', error: 'boom' })),
      headers: headers({ 'agent-id': 'worker-7', 'a2a-attempt': '3', __proto__: 'x', constructor: 'y' }),
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
  return values.map(({ value, key, headers: h }, i) => {
    const keyBytes = key === undefined ? Buffer.from(`wf-${i}`) : key;
    return {
      topic: TOPIC,
      partition: 3,
      offset: String(100 + i),
      timestamp: 1_700_000_000_000 + i,
      key: keyBytes === null ? null : keyBytes.toString('utf8'),
      keyBytes,
      headers: h ?? headers({}),
      value,
    };
  });
}

function decoder(keepJsonBody: boolean): RecordDecoder {
  return new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes: MAX_PAYLOAD, keepJsonBody });
}

function assertSameEvents(actual: AgentEvent[], expected: AgentEvent[]): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i += 1) {
    assert.deepEqual(
      Object.keys(actual[i]!),
      Object.keys(expected[i]!),
      `event ${i}: the same fields in the same order`,
    );
    assert.deepEqual(actual[i], expected[i], `event ${i}`);
  }
}

for (const keepJsonBody of [false, true]) {
  test(`the packed hand-off gives the main thread's events (keepJsonBody ${keepJsonBody})`, async () => {
    const all = records().slice(0, -1); // the framed record never goes to a worker
    const expected = await decoder(keepJsonBody).decode(all);
    const inWorker = unpackRecords(packRecords(TOPIC, all)).map((record) => decoder(false).decodeRecord(record));
    const actual = eventsFromFacts(all, packFacts(inWorker, keepJsonBody));
    assertSameEvents(actual, expected);
    assert.ok(expected.some((e) => e.encoding === 'a2a-jsonrpc') && expected.some((e) => e.dlqReason !== null));
    assert.equal(expected[2]!.producer, 'worker-7');
    assert.equal(expected[2]!.attempt, 3);
  });

  test(`decode workers give the main thread's events, framed records decoded on the main thread (keepJsonBody ${keepJsonBody})`, async () => {
    const all = records();
    const expected = await decoder(keepJsonBody).decode(all);
    const workers = new DecodeWorkers(
      decoder(keepJsonBody),
      { workers: 2, maxPayloadBytes: MAX_PAYLOAD, keepJsonBody },
      createLogger('error'),
    );
    try {
      assertSameEvents(await workers.decode(all), expected);
      assertSameEvents(await workers.decode(all.slice(0, 3)), expected.slice(0, 3));
      assert.deepEqual(workers.stats(), { batches: 2, recordsOnMainThread: 1, failures: 0 });
    } finally {
      await workers.close();
    }
  });
}

test('a decode worker that dies while it holds a batch: the batch is decoded on the main thread, the next on a new worker', async () => {
  const all = records().slice(0, -1);
  const expected = await decoder(false).decode(all);
  const workers = new DecodeWorkers(
    decoder(false),
    { workers: 1, maxPayloadBytes: MAX_PAYLOAD, keepJsonBody: false },
    createLogger('error'),
  );
  try {
    const decoding = workers.decode(all);
    const threads = (workers as unknown as { threads: Array<{ worker: { terminate(): Promise<number> } }> }).threads;
    await threads[0]!.worker.terminate();
    assertSameEvents(await decoding, expected);
    assert.deepEqual(workers.stats(), { batches: 0, recordsOnMainThread: all.length, failures: 1 });
    assertSameEvents(await workers.decode(all), expected);
    assert.equal(workers.stats().batches, 1, 'a new worker decoded the next batch');
  } finally {
    await workers.close();
  }
});
