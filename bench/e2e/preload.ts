// Creates the benchmark's 12 topics and fills them with the A2A traffic, as fast as kafkajs sends.

import { CompressionTypes, Partitioners, type Kafka } from 'kafkajs';
import { progress } from '../child.js';
import { a2aTraffic, benchTopics, type BenchRecord } from './a2a-traffic.js';

const CHUNK = 10_000;

export async function preload(
  kafka: Kafka,
  run: string,
  messages: number,
): Promise<{ bytes: number; seconds: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: benchTopics(run).map((topic) => ({ topic, numPartitions: 1 })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const started = performance.now();
  let bytes = 0;
  let sent = 0;
  try {
    let chunk: BenchRecord[] = [];
    const flush = async () => {
      const byTopic = new Map<string, BenchRecord[]>();
      for (const record of chunk) {
        const list = byTopic.get(record.topic) ?? [];
        list.push(record);
        byTopic.set(record.topic, list);
      }
      await producer.sendBatch({
        acks: 1,
        compression: CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, list]) => ({
          topic,
          messages: list.map(({ key, timestamp, value }) => ({ key, timestamp, value })),
        })),
      });
      sent += chunk.length;
      if (sent % 200_000 === 0)
        progress(`preloaded ${sent.toLocaleString('en')} of ${messages.toLocaleString('en')} messages`);
      chunk = [];
    };
    // Event time: one task every 2 ms (500 tasks/s), so the run spans many detection windows.
    for (const record of a2aTraffic(run, messages / 2, { startMs: Date.now() - messages, spacingMs: 2 })) {
      bytes += Buffer.byteLength(record.value);
      chunk.push(record);
      if (chunk.length === CHUNK) await flush();
    }
    if (chunk.length > 0) await flush();
  } finally {
    await producer.disconnect();
  }
  return { bytes, seconds: (performance.now() - started) / 1000 };
}

export async function deleteTopics(kafka: Kafka, run: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: benchTopics(run) });
  } finally {
    await admin.disconnect();
  }
}
