// Records whose timestamps no clock explains (see EventClock), counted per producer so that an SRE
// can find the producer with the wrong clock: the `clock_skew` findings of the API and a metric.
// Bounded: at most `maxProducers` producers are kept; the least recently seen gives way (counted).

import type { AgentEvent } from '../decode/index.js';
import type { ClockSkew } from './event-clock.js';
import { OrderedTable, orderedEntry, type OrderedEntry } from './ordered-table.js';

export interface ClockFinding {
  kind: 'clock_skew';
  /** The agent that produced the records as the wire names it (else the capability), and the topic. */
  producer: string;
  topic: string;
  ahead: number;
  behind: number;
  /** The latest such record: where it is, and what it was stamped. */
  last: { partition: number; offset: string; timestamp: number; skew: ClockSkew; seenAt: number };
}

export class ClockFindings {
  private readonly byProducer = new OrderedTable<OrderedEntry<ClockFinding>>();
  private readonly totals = { ahead: 0, behind: 0, producersDropped: 0 };

  constructor(private readonly maxProducers = 1_000) {}

  record(event: AgentEvent, skew: ClockSkew, wall: number): void {
    this.totals[skew] += 1;
    const key = `${event.producer}\u0000${event.topic}`;
    let entry = this.byProducer.get(key);
    if (entry === undefined) {
      entry = orderedEntry<ClockFinding>(key, {
        kind: 'clock_skew',
        producer: event.producer,
        topic: event.topic,
        ahead: 0,
        behind: 0,
        last: { partition: 0, offset: '0', timestamp: 0, skew, seenAt: 0 },
      });
      if (this.byProducer.size >= this.maxProducers) {
        this.byProducer.delete(this.byProducer.oldest()!.key);
        this.totals.producersDropped += 1;
      }
    }
    const finding = entry.value;
    finding[skew] += 1;
    finding.last = { partition: event.partition, offset: event.offset, timestamp: event.timestamp, skew, seenAt: wall };
    this.byProducer.set(entry); // most recently seen last
  }

  /** Every producer with such records, most recently seen first. */
  list(): ClockFinding[] {
    return [...this.byProducer.values()].map((entry) => structuredClone(entry.value)).reverse();
  }

  stats(): { ahead: number; behind: number; producers: number; producersDropped: number } {
    return { ...this.totals, producers: this.byProducer.size };
  }
}
