// While ClickHouse refuses inserts, the audit writer retries with backoff and the batch is not
// accepted (so ingest waits and commits nothing); when ClickHouse is back, every row is stored once.
// The outage is injected by wrapping the real embedded client (its audit inserts are refused for a while):
// the real engine cannot be made unavailable on demand inside this process. So is a lost answer: an
// insert that lands, then fails on its way back (a time-out), is retried and must not be stored twice.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  AuditWriter,
  createClickHouseClient,
  createRedactor,
  migrate,
  verifyPartition,
  type ClickHouseClient,
} from '../../src/audit/index.js';
import { loadConfig } from '../../src/config/index.js';
import { RecordDecoder } from '../../src/decode/index.js';
import { createLogger } from '../../src/logger.js';
import { record } from '../fixtures/records.js';
import { withMethod } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'aw-outage-'));
let client: ClickHouseClient | undefined;
after(async () => {
  await client?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An audit writer on `client`, and `count` decoded records of `topic` (offsets 0..count-1). */
async function writerAndEvents(client: ClickHouseClient, topic: string, count: number) {
  const writer = new AuditWriter(client, {
    batchRows: 100,
    flushMs: 20,
    retryMaxMs: 200,
    redact: createRedactor([]),
    logger: createLogger('fatal'),
  });
  const decoder = new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes: 1 << 20 });
  const events = await decoder.decode(
    Array.from({ length: count }, (_, i) =>
      record(topic, { workflow_id: 'w', task_type: 'x', payload: { i } }, { offset: String(i) }),
    ),
  );
  return { writer, events };
}

test('inserts refused for a while: the batch waits, then every row is stored exactly once', async () => {
  client = await createClickHouseClient({ ...loadConfig({}).clickhouse, dataDir: dir });
  await migrate(client, { retentionDays: 0 });
  let refusals = 0;
  let refusing = true;
  const flaky = withMethod(client, 'command', async (real, ...args) => {
    if (refusing && args[0].query.startsWith('INSERT INTO audit_events')) {
      refusals += 1;
      throw new Error('ECONNREFUSED (injected outage)');
    }
    return real.command(...args);
  });
  const { writer, events } = await writerAndEvents(flaky, 'agent.tasks.outage', 50);
  const batch = { topic: 'agent.tasks.outage', partition: 0, events, timeouts: [], watermark: 0 };

  let accepted = false;
  const acceptance = writer.accept(batch).then(() => {
    accepted = true;
  });
  while (refusals < 3) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(accepted, false, 'not accepted while ClickHouse refuses');
  refusing = false;
  await acceptance;
  assert.equal(writer.stats().rowsWritten, 50);

  await writer.accept(batch); // the same records again (a redelivery): skipped
  assert.equal(writer.stats().duplicatesSkipped, 50);
  const [row] = await (
    await client.query({
      query: "SELECT count() AS n FROM audit_events WHERE topic = 'agent.tasks.outage'",
      format: 'JSONEachRow',
    })
  ).json<{ n: string }>();
  assert.equal(Number(row!.n), 50);
  assert.equal((await verifyPartition(client, { topic: 'agent.tasks.outage', partition: 0 })).ok, true);
  await client.close(); // one embedded data directory per process: the next test opens its own
  client = undefined;
});

test('an insert that landed but whose answer was lost is retried and stored once', async () => {
  const lostDir = mkdtempSync(join(tmpdir(), 'aw-lost-answer-'));
  const real = await createClickHouseClient({ ...loadConfig({}).clickhouse, dataDir: lostDir });
  try {
    await migrate(real, { retentionDays: 0 });
    let lost = 0;
    const losing = withMethod(real, 'command', async (inner, ...args) => {
      const result = await inner.command(...args);
      if (lost === 0 && args[0].query.startsWith('INSERT INTO audit_events')) {
        lost += 1;
        throw new Error('Timeout error (injected: the insert landed, its answer did not)');
      }
      return result;
    });
    const { writer, events } = await writerAndEvents(losing, 'agent.tasks.lost', 40);
    await writer.accept({ topic: 'agent.tasks.lost', partition: 0, events, timeouts: [], watermark: 0 });
    assert.equal(lost, 1, 'the first insert landed and then failed');
    assert.ok(writer.stats().insertRetries >= 1);
    const [row] = await (
      await real.query({
        query: "SELECT count() AS n, uniqExact(offset) AS offsets FROM audit_events WHERE topic = 'agent.tasks.lost'",
        format: 'JSONEachRow',
      })
    ).json<{ n: string; offsets: string }>();
    assert.deepEqual([Number(row!.n), Number(row!.offsets)], [40, 40], 'each record stored once');
    assert.equal((await verifyPartition(real, { topic: 'agent.tasks.lost', partition: 0 })).ok, true);
  } finally {
    await real.close();
    rmSync(lostDir, { recursive: true, force: true });
  }
});
