// Copies records that cannot be decoded to the dead-letter topic: same key and value, original
// headers, plus where the record came from and why it could not be decoded.

import type { Producer } from 'kafkajs';
import type { AgentEvent } from '../decode/index.js';

export const DLQ_HEADERS = {
  reason: 'agentwatch-dlq-reason',
  error: 'agentwatch-dlq-error',
  topic: 'agentwatch-source-topic',
  partition: 'agentwatch-source-partition',
  offset: 'agentwatch-source-offset',
  timestamp: 'agentwatch-source-timestamp',
} as const;

export class DlqWriter {
  private written = 0;

  constructor(private readonly producer: Producer, readonly topic: string) {}

  /** Resolves once the broker acknowledged every copy (acks from all in-sync replicas). */
  async write(events: readonly AgentEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: events.map((event) => ({
        key: event.key,
        value: event.value,
        headers: {
          ...event.headers,
          [DLQ_HEADERS.reason]: event.dlqReason ?? 'unknown',
          [DLQ_HEADERS.error]: (event.parseError ?? '').slice(0, 1000),
          [DLQ_HEADERS.topic]: event.topic,
          [DLQ_HEADERS.partition]: String(event.partition),
          [DLQ_HEADERS.offset]: event.offset,
          [DLQ_HEADERS.timestamp]: String(event.timestamp),
        },
      })),
    });
    this.written += events.length;
  }

  count(): number {
    return this.written;
  }
}
