// `agentwatch verify --against-kafka`: reads each verified topic-partition from Kafka, while the
// log still holds it, decodes every record as the service does (same schema registry, redaction and
// payload limits), and has SourceCheck compare the stored rows with the rows the records give. The
// records are read by a consumer in a group of its own that commits nothing; the agents' groups and
// agentwatch's own are not touched.

import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { chainGenesis, SourceCheck, type Redactor, type SourceReport, type VerifyRange } from '../audit/index.js';
import type { RecordDecoder } from '../decode/index.js';
import { toRecord } from '../ingest/index.js';

/** Compares the stored rows of `ranges` (of one topic) with the topic's records; one report per range. */
export async function checkAgainstKafka(
  kafka: Kafka,
  client: ClickHouseClient,
  decoder: RecordDecoder,
  redact: Redactor,
  topic: string,
  ranges: readonly VerifyRange[],
): Promise<SourceReport[]> {
  const admin = kafka.admin();
  await admin.connect();
  let offsets: Array<{ partition: number; low: string; high: string }>;
  try {
    offsets = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const checks = new Map<number, { check: SourceCheck; start: bigint; end: bigint }>();
  for (const range of ranges) {
    const log = offsets.find((o) => o.partition === range.partition);
    const check = new SourceCheck(
      client,
      topic,
      range.partition,
      redact,
      range.fromOffset === undefined ? await chainGenesis(client, topic, range.partition) : null,
    );
    if (log === undefined) continue;
    const low = BigInt(log.low);
    const start = range.fromOffset === undefined || BigInt(range.fromOffset) < low ? low : BigInt(range.fromOffset);
    const high = BigInt(log.high); // the end when the check began: later records are not checked
    const end = range.toOffset === undefined || BigInt(range.toOffset) + 1n > high ? high : BigInt(range.toOffset) + 1n;
    checks.set(range.partition, { check, start, end });
  }
  const open = new Set([...checks].filter(([, c]) => c.start < c.end).map(([p]) => p));
  if (open.size > 0) {
    const consumer = kafka.consumer({ groupId: `agentwatch-verify-source-${process.pid}-${Date.now()}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        // A partition is read once the fetches passed the end. In a transactional topic the last
        // offsets may be commit or abort markers (and aborted records), which consumers are never
        // given: the batch's last offset counts them, and a fetch of nothing but them reaches no
        // eachBatch, only the batch instrumentation event.
        const reached = (partition: number, lastOffset: string): void => {
          const entry = checks.get(partition);
          if (entry === undefined || !open.has(partition) || BigInt(lastOffset) + 1n < entry.end) return;
          open.delete(partition);
          if (open.size === 0) resolve();
        };
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => reached(payload.partition, payload.lastOffset));
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const entry = checks.get(batch.partition);
              if (entry === undefined || !open.has(batch.partition)) return;
              const messages = batch.messages.filter((m) => {
                const offset = BigInt(m.offset);
                return offset >= entry.start && offset < entry.end;
              });
              const records = messages.map((m) => toRecord(topic, batch.partition, m));
              const events = await decoder.decode(records);
              if (!(await entry.check.feed(events))) reached(batch.partition, (entry.end - 1n).toString());
              else reached(batch.partition, batch.lastOffset());
            },
          })
          .catch(reject);
        for (const partition of open)
          consumer.seek({ topic, partition, offset: checks.get(partition)!.start.toString() });
      });
    } finally {
      await consumer.disconnect();
    }
  }
  // Offsets the log has not assigned yet cannot hold a genuine row (read now: records produced
  // during the check may have been stored meanwhile).
  const admin2 = kafka.admin();
  await admin2.connect();
  try {
    for (const end of await admin2.fetchTopicOffsets(topic)) {
      const range = ranges.find((r) => r.partition === end.partition);
      if (range !== undefined && range.toOffset === undefined)
        await checks.get(end.partition)?.check.checkBeyond(end.high);
    }
  } finally {
    await admin2.disconnect();
  }
  return ranges.map((range) => {
    const entry = checks.get(range.partition);
    if (entry !== undefined) return entry.check.report;
    return new SourceCheck(client, topic, range.partition, redact).report;
  });
}
