// Checkpoints of the hash chain, (topic, partition, offset, hash) of the last stored row, published
// to a Kafka topic every CHECKPOINT_INTERVAL_MS: an independent log against which a rewritten or
// truncated store is detected (verify --checkpoints).

import type { Kafka, Producer } from 'kafkajs';
import type { Checkpoint } from './verify.js';

export class CheckpointPublisher {
  private timer: NodeJS.Timeout | undefined;
  private published = 0;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly producer: Producer,
    readonly topic: string,
    private readonly source: { takeCheckpoints(): Checkpoint[] },
    private readonly onError: (err: unknown) => void,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.publish(), intervalMs);
  }

  /** Publishes the tails that moved; a failed publish puts nothing back (the next one supersedes it). */
  publish(): Promise<void> {
    this.running = this.running.then(async () => {
      const checkpoints = this.source.takeCheckpoints();
      if (checkpoints.length === 0) return;
      try {
        await this.producer.send({
          topic: this.topic,
          acks: -1,
          messages: checkpoints.map((cp) => ({
            key: `${cp.topic}:${cp.partition}`,
            value: JSON.stringify({ ...cp, at: Date.now() }),
          })),
        });
        this.published += checkpoints.length;
      } catch (err) {
        this.onError(err);
      }
    });
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.publish();
  }

  count(): number {
    return this.published;
  }
}

/** Reads every checkpoint on `topic` (from the beginning to the current end). */
export async function readCheckpoints(kafka: Kafka, topic: string): Promise<Checkpoint[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    if (!(await admin.listTopics()).includes(topic)) return [];
    ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
  const remaining = new Set([...ends].filter(([, end]) => end > 0n).map(([p]) => p));
  if (remaining.size === 0) return [];
  const checkpoints: Checkpoint[] = [];
  const consumer = kafka.consumer({ groupId: `agentwatch-verify-${process.pid}-${Date.now()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const value = JSON.parse(message.value?.toString() ?? '{}') as Checkpoint;
            checkpoints.push({
              topic: value.topic,
              partition: Number(value.partition),
              offset: String(value.offset),
              hash: value.hash,
            });
            if (BigInt(message.offset) + 1n >= ends.get(partition)!) {
              remaining.delete(partition);
              if (remaining.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return checkpoints;
}
