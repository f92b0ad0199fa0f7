// DLQ copies fit the topic's limit: requests are cut to max.message.bytes, a copy too large alone
// becomes a reference, a request the broker still refuses is halved, and a retry resends only what
// was not acknowledged. The producer here is a stand-in that enforces a size limit the way the broker
// does (MESSAGE_TOO_LARGE); test/integration/dlq-writer.test.ts runs the same on the real broker.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Message, Producer, ProducerRecord } from 'kafkajs';
import type { AgentEvent } from '../../../src/decode/index.js';
import { DLQ_HEADERS, DlqWriter } from '../../../src/ingest/index.js';
import { messageBytes } from '../../../src/ingest/dlq-writer.js';

/** Accepts a request whose records sum to at most `limit` bytes (as the writer estimates them); else MESSAGE_TOO_LARGE, as kafkajs reports it. */
class LimitedProducer {
  readonly requests: Message[][] = [];
  constructor(private readonly limit: number) {}
  async send(record: ProducerRecord): Promise<unknown> {
    const bytes = record.messages.reduce((n, m) => n + messageBytes(m), 0);
    if (bytes > this.limit) {
      throw Object.assign(new Error('KafkaJSNonRetriableError'), {
        originalError: Object.assign(
          new Error('The request included a message larger than the max message size the server will accept'),
          { type: 'MESSAGE_TOO_LARGE' },
        ),
      });
    }
    this.requests.push(record.messages);
    return [];
  }
}

const dead = (offset: number, value: Buffer, headers: Record<string, string> = {}): AgentEvent =>
  ({
    topic: 'agent.tasks.x',
    partition: 0,
    offset: String(offset),
    timestamp: 1_700_000_000_000,
    key: `k-${offset}`,
    headers,
    value,
    dlqReason: 'invalid-json',
    parseError: 'value is not valid JSON',
  }) as unknown as AgentEvent;

describe('DlqWriter', () => {
  test('copies go out in requests that fit max.message.bytes; one too large alone becomes a reference', async () => {
    const producer = new LimitedProducer(10_000);
    const writer = new DlqWriter(producer as unknown as Producer, 'dlq', 10_000 + 61);
    const huge = Buffer.alloc(20_000, 1);
    const events = [
      ...Array.from({ length: 30 }, (_, i) => dead(i, Buffer.alloc(900, 0x7b))),
      dead(30, huge),
      dead(31, Buffer.alloc(10, 0x7b), { big: 'h'.repeat(12_000) }),
    ];
    await writer.write(events);
    assert.ok(producer.requests.length >= 3, `${producer.requests.length} requests`);
    const sent = producer.requests.flat();
    assert.equal(sent.length, 32, 'one copy or reference per dead record');
    const ref = sent.find((m) => m.headers?.[DLQ_HEADERS.offset] === '30')!;
    assert.equal(ref.headers?.[DLQ_HEADERS.reference], 'too-large');
    assert.deepEqual(JSON.parse(String(ref.value)), {
      reference: 'too-large',
      topic: 'agent.tasks.x',
      partition: 0,
      offset: '30',
      timestamp: 1_700_000_000_000,
      reason: 'invalid-json',
      size: 20_000,
      sha256: createHash('sha256').update(huge).digest('hex'),
    });
    const hugeHeaders = sent.find((m) => m.headers?.[DLQ_HEADERS.offset] === '31')!;
    assert.equal(hugeHeaders.headers?.[DLQ_HEADERS.reference], 'too-large', 'huge headers are referenced too');
    assert.equal(hugeHeaders.headers?.big, undefined);
    assert.deepEqual(writer.stats(), { written: 32, references: 2, splits: 0 });
  });

  test('a request the broker refuses as too large (its limit lowered since) is halved, down to a reference', async () => {
    const producer = new LimitedProducer(2_500);
    const writer = new DlqWriter(producer as unknown as Producer, 'dlq', 1_000_000);
    await writer.write([
      dead(0, Buffer.alloc(900, 0x7b)),
      dead(1, Buffer.alloc(900, 0x7b)),
      dead(2, Buffer.alloc(900, 0x7b)),
      dead(3, Buffer.alloc(3_000, 0x7b)),
    ]);
    const sent = producer.requests.flat();
    assert.deepEqual(
      sent.map((m) => m.headers?.[DLQ_HEADERS.offset]),
      ['0', '1', '2', '3'],
    );
    assert.equal(sent[3]!.headers?.[DLQ_HEADERS.reference], 'too-large');
    assert.ok(writer.stats().splits >= 2);
  });

  test('a delivery retried after a transient error sends only the requests not yet acknowledged', async () => {
    const producer = new LimitedProducer(2_000);
    const writer = new DlqWriter(producer as unknown as Producer, 'dlq', 2_000 + 61);
    const delivery = writer.prepare(Array.from({ length: 6 }, (_, i) => dead(i, Buffer.alloc(900, 0x7b))));
    const original = producer.send.bind(producer);
    let calls = 0;
    producer.send = async (record) => {
      calls += 1;
      if (calls === 2) throw Object.assign(new Error('Connection closed'), { type: 'NETWORK' });
      return original(record);
    };
    await assert.rejects(delivery.send(), /Connection closed/);
    await delivery.send();
    const offsets = producer.requests.flat().map((m) => m.headers?.[DLQ_HEADERS.offset]);
    assert.deepEqual(offsets, ['0', '1', '2', '3', '4', '5'], 'each copy once, in order');
  });
});
