// Group commit in the pipeline: once a batch that reached its partition's end was handed over, a
// buffering sink is told to write as soon as no batch is decoding, not before (a batch still decoding
// would miss the insert) and not later (no batch should wait out the sink's flush interval when
// nothing more can arrive). While a backlog is read, the sink is not hurried. A step that keeps
// failing is a stall of its partition, reported (metrics, /readyz) until it succeeds.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import {
  ClockFindings,
  Correlator,
  EventClock,
  type CorrelatedBatch,
  type EventSink,
} from '../../src/correlate/index.js';
import { RecordDecoder } from '../../src/decode/index.js';
import type { DlqWriter, TapBatch } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { BatchAbandoned, Pipeline } from '../../src/pipeline.js';
import { record } from '../fixtures/records.js';

/** Holds every accepted batch until flushNow, like the audit writer with a long flush interval. */
class BufferingSink implements EventSink {
  readonly name = 'buffering';
  held: Array<() => void> = [];
  /** How many batches each flushNow wrote. */
  readonly flushes: number[] = [];

  accept(_batch: CorrelatedBatch): Promise<void> {
    return new Promise((resolve) => this.held.push(resolve));
  }

  flushNow(): void {
    this.flushes.push(this.held.length);
    for (const resolve of this.held.splice(0)) resolve();
  }

  async close(): Promise<void> {}
}

function pipeline(sink: EventSink, schemaDelayMs: number): Pipeline {
  const config = loadConfig({});
  return new Pipeline({
    decoder: new RecordDecoder(
      {
        schemaById: async () => {
          await new Promise((r) => setTimeout(r, schemaDelayMs));
          return undefined;
        },
      },
      { maxPayloadBytes: 1 << 20 },
    ),
    correlator: new Correlator(config.correlate),
    clock: new EventClock(config.eventTime),
    clockFindings: new ClockFindings(),
    dlq: { topic: 'dlq', prepare: () => ({ send: async () => undefined }) } as unknown as DlqWriter,
    sinks: [sink],
    logger: createLogger('fatal'),
    retryMaxMs: 100,
    alignMs: config.eventTime.alignMs,
  });
}

function batch(partition: number, value: unknown, caughtUp = true): TapBatch {
  return {
    topic: 'agent.tasks.x',
    partition,
    caughtUp,
    records: [record('agent.tasks.x', value, { partition })],
    heartbeat: async () => undefined,
    isActive: () => true,
  };
}

test('the sink is flushed once, when the last of the concurrent batches reaches it', async () => {
  const sink = new BufferingSink();
  const p = pipeline(sink, 50);
  const envelope = { workflow_id: 'w', task_type: 'x', payload: {} };
  // Partition 2 holds a Confluent-framed record: its decode waits 50 ms on the schema lookup.
  const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from('x')]);
  const handled = Promise.all(
    [batch(0, envelope), batch(1, envelope), batch(2, framed)].map(async (b) => (await p.handle(b)).durable),
  );
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(sink.flushes, [], 'no flush while a batch is still decoding');
  await handled;
  assert.deepEqual(sink.flushes, [3], 'one flush wrote all three batches');
});

test('a lone batch is flushed at once', async () => {
  const sink = new BufferingSink();
  await (
    await pipeline(sink, 0).handle(batch(0, { workflow_id: 'w', task_type: 'x', payload: {} }))
  ).durable;
  assert.deepEqual(sink.flushes, [1]);
});

test('while a backlog is read, handing a batch over does not hurry the sink; handle returns before it holds the batch', async () => {
  const sink = new BufferingSink();
  const p = pipeline(sink, 0);
  const { durable } = await p.handle(batch(0, { workflow_id: 'w', task_type: 'x', payload: {} }, false));
  let settled = false;
  void durable.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(sink.flushes, [], 'not flushed: more of the backlog is coming');
  assert.equal(settled, false, 'not durable before the sink wrote it');
  p.flushNow();
  await durable;
  assert.deepEqual(sink.flushes, [1]);
});

test('a batch whose sink keeps failing is a stall of its partition and step, until the sink accepts it', async () => {
  let refusals = 3;
  const failing: EventSink = {
    name: 'store',
    async accept() {
      if (refusals > 0) {
        refusals -= 1;
        throw new Error('store unavailable (injected)');
      }
    },
    async close() {},
  };
  const p = pipeline(failing, 0);
  const handled = p.handle(batch(4, { workflow_id: 'w', task_type: 'x', payload: {} })).then((h) => h.durable);
  await new Promise((r) => setTimeout(r, 30));
  const [stall, ...others] = p.stalls();
  assert.deepEqual(others, []);
  assert.deepEqual(
    [stall?.topic, stall?.partition, stall?.step, stall?.error],
    ['agent.tasks.x', 4, 'sink store', 'store unavailable (injected)'],
  );
  assert.ok(stall!.attempts >= 1 && stall!.since <= Date.now());
  await handled;
  assert.deepEqual(p.stalls(), [], 'nothing stalled once the sink accepted the batch');
});

test('a batch whose sink fails once it is no longer ours is abandoned: durable rejects, nothing is retried or stalled', async () => {
  let attempts = 0;
  const failing: EventSink = {
    name: 'store',
    async accept() {
      attempts += 1;
      throw new Error('store unavailable (injected)');
    },
    async close() {},
  };
  const p = pipeline(failing, 0);
  let ours = true;
  const handed = await p.handle({
    ...batch(5, { workflow_id: 'w', task_type: 'x', payload: {} }),
    isActive: () => ours,
  });
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(p.stalls().length, 1, 'retrying while the batch is ours');
  ours = false; // a rebalance took the partition, or the tap is stopping
  await assert.rejects(handed.durable, BatchAbandoned);
  const tried = attempts;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(attempts, tried, 'no retry after the batch was abandoned');
  assert.deepEqual(p.stalls(), [], 'an abandoned batch is no stall');
});
