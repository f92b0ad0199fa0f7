// Creates agentwatch's output topics (DLQ, anomalies, checkpoints) when they do not exist yet:
// brokers run with automatic topic creation off.

import type { Admin } from 'kafkajs';
import type { TopicsConfig } from '../config/index.js';

export async function ensureTopics(admin: Admin, names: readonly string[], config: TopicsConfig): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = names.filter((name) => !existing.has(name));
  if (missing.length === 0) return [];
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((topic) => ({
      topic,
      numPartitions: config.partitions,
      replicationFactor: config.replicationFactor,
    })),
  });
  return missing;
}
