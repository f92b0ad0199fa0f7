// Regression: in the embedded engine every query runs in one session, where settings sent with a
// request (clickhouse_settings) stick. The API's readonly=2 then refused every later audit insert
// (found by the demo: ingestion stalled after the first compliance query). Query settings now live in
// the SQL SETTINGS clause, which is scoped to its query.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  AuditWriter,
  createClickHouseClient,
  createRedactor,
  migrate,
  searchAnomalies,
  searchAudit,
  verifyPartition,
  type ClickHouseClient,
} from '../../src/audit/index.js';
import { loadConfig } from '../../src/config/index.js';
import { RecordDecoder } from '../../src/decode/index.js';
import { createLogger } from '../../src/logger.js';
import { record } from '../fixtures/records.js';
import { repoRoot } from '../../bench/local-stack.js';

const dir = mkdtempSync(join(tmpdir(), 'aw-settings-'));
let client: ClickHouseClient | undefined;
after(async () => {
  await client?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('after read-only API queries, the audit writer still inserts', async () => {
  client = await createClickHouseClient({ ...loadConfig({}).clickhouse, dataDir: dir });
  await migrate(client, { retentionDays: 0 });
  const limits = { timeoutMs: 5_000, maxRows: 100 };
  await searchAudit(client, { producer: 'x' }, { limit: 10 }, limits);
  await searchAnomalies(client, {}, 10, limits);
  await verifyPartition(client, { topic: 'none', partition: 0 });

  const writer = new AuditWriter(client, {
    batchRows: 10,
    flushMs: 10,
    retryMaxMs: 100,
    redact: createRedactor([]),
    logger: createLogger('fatal'),
  });
  const decoder = new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes: 1 << 20 });
  const events = await decoder.decode([
    record('agent.tasks.settings', { workflow_id: 'w', task_type: 'x', payload: {} }, { offset: '0' }),
  ]);
  const accepted = writer.accept({ topic: 'agent.tasks.settings', partition: 0, events, timeouts: [], watermark: 0 });
  const outcome = await Promise.race([
    accepted.then(() => 'inserted'),
    new Promise((resolve) => setTimeout(() => resolve('still refused after 5 s'), 5_000)),
  ]);
  assert.equal(outcome, 'inserted');
  assert.equal(writer.stats().insertRetries, 0, 'no insert was refused');
});

test('no code sends clickhouse_settings (they stick to the embedded session)', () => {
  const files = (dirPath: string): string[] =>
    readdirSync(dirPath, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dirPath, e.name)) : e.name.endsWith('.ts') ? [join(dirPath, e.name)] : [],
    );
  const offenders = files(join(repoRoot, 'src')).filter((file) =>
    /clickhouse_settings\s*:/.test(readFileSync(file, 'utf8')),
  );
  assert.deepEqual(offenders, []);
});
