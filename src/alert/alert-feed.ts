// The anomalies topic, tailed for live subscribers (GET /v1/alerts/stream): one consumer per process
// in a group of its own (it must see every partition, whatever other instances run) that never
// commits, reading the topic from its start and keeping the last ALERT_STREAM_BUFFER alerts.
//
// A position is the next offset per partition, written "0:17,1:4". A stream's event ids are
// positions, so a client that reconnects with Last-Event-ID gets exactly the alerts after what it
// saw, from any instance. A position older than what is kept yields an explicit gap. Records are
// handled once, in offset order per partition, however often kafkajs starts the group over.

import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../logger.js';
import { fromAvro, type AvroAlert, type PublishedAlert } from './alert-publisher.js';

export interface FeedEntry {
  partition: number;
  offset: bigint;
  published: PublishedAlert;
  /** The record as on the topic (Avro's JSON shape). */
  record: AvroAlert;
}

/** Next offset per partition. */
export type FeedPosition = Map<number, bigint>;

export interface FeedGap {
  partition: number;
  /** First offset the client has not seen. */
  from: bigint;
  /** First offset still kept. */
  to: bigint;
}

export function formatPosition(position: FeedPosition): string {
  return [...position.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([p, o]) => `${p}:${o}`)
    .join(',');
}

/** Parses "0:17,1:4"; undefined when it is not a position. */
export function parsePosition(text: string): FeedPosition | undefined {
  const position: FeedPosition = new Map();
  if (text.trim() === '') return position;
  if (text.length > 10_000) return undefined;
  for (const part of text.split(',')) {
    const match = /^(\d{1,6}):(\d{1,19})$/.exec(part.trim());
    if (match === null) return undefined;
    position.set(Number(match[1]), BigInt(match[2]!));
  }
  return position;
}

export type FeedListener = (entry: FeedEntry) => void;

export class AlertFeed {
  private consumer: Consumer | undefined;
  private readonly ring: FeedEntry[] = [];
  /** Per partition: the first offset still kept (or, before any eviction, the first the feed could read). */
  private readonly keptFrom = new Map<number, bigint>();
  /** Per partition: the next offset the feed will read. */
  private readonly head: FeedPosition = new Map();
  private readonly listeners = new Set<FeedListener>();
  private undecodable = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: {
      topic: string;
      groupId: string;
      keep: number;
      decode(value: Buffer): Promise<AvroAlert>;
    },
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      // Only the last `keep` records of a partition can be kept: older ones are skipped unread.
      for (const p of await admin.fetchTopicOffsets(this.options.topic)) {
        const high = BigInt(p.high);
        const low = BigInt(p.low);
        const from = high - BigInt(this.options.keep) > low ? high - BigInt(this.options.keep) : low;
        this.keptFrom.set(p.partition, from);
        this.head.set(p.partition, from);
      }
    } finally {
      await admin.disconnect();
    }
    const groupId = `${this.options.groupId}-stream-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    // A short long-poll: stopping waits for the fetch in flight.
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [this.options.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          // Read already (kafkajs starts over after a rejoin: this group never commits), or not to be kept.
          if (offset < (this.head.get(batch.partition) ?? 0n)) continue;
          this.head.set(batch.partition, offset + 1n);
          let record: AvroAlert;
          try {
            record = await this.options.decode(message.value ?? Buffer.alloc(0));
          } catch (err) {
            this.undecodable += 1;
            this.logger.warn(
              { partition: batch.partition, offset: message.offset, err: (err as Error).message },
              'an anomalies-topic record could not be decoded; the live stream skips it',
            );
            continue;
          }
          this.push({ partition: batch.partition, offset, published: fromAvro(record), record });
        }
      },
    });
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    await this.consumer?.disconnect();
  }

  /** Where the feed has read up to: a new client's start. */
  position(): FeedPosition {
    return new Map(this.head);
  }

  /** Kept entries after `position` (in the order read), and the gaps where entries were not kept. */
  since(position: FeedPosition): { entries: FeedEntry[]; gaps: FeedGap[] } {
    const gaps: FeedGap[] = [];
    for (const [partition, keptFrom] of this.keptFrom) {
      const from = position.get(partition) ?? 0n;
      if (from < keptFrom) gaps.push({ partition, from, to: keptFrom });
    }
    const entries = this.ring.filter((e) => e.offset >= (position.get(e.partition) ?? 0n));
    return { entries, gaps };
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): { kept: number; subscribers: number; undecodable: number } {
    return { kept: this.ring.length, subscribers: this.listeners.size, undecodable: this.undecodable };
  }

  private push(entry: FeedEntry): void {
    this.ring.push(entry);
    if (this.ring.length > this.options.keep) {
      const evicted = this.ring.shift()!;
      this.keptFrom.set(evicted.partition, evicted.offset + 1n);
    }
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch (err) {
        this.listeners.delete(listener);
        this.logger.warn({ err }, 'a live-stream subscriber threw and was removed');
      }
    }
  }
}
