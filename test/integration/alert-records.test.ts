// What the audit store says about alerts, on the embedded engine: which alerts are still firing (for
// Alertmanager's refreshes and a restart's consumer-group alerts), and from when a delivery
// destination delivers.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  AuditWriter,
  createClickHouseClient,
  createRedactor,
  destinationSince,
  migrate,
  readFiringAlerts,
  type ClickHouseClient,
} from '../../src/audit/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'aw-alert-records-'));
let client: ClickHouseClient;
let writer: AuditWriter;

before(async () => {
  client = await createClickHouseClient({ ...loadConfig({}).clickhouse, dataDir: dir });
  await migrate(client, { retentionDays: 0 });
  writer = new AuditWriter(client, {
    batchRows: 100,
    flushMs: 20,
    retryMaxMs: 200,
    redact: createRedactor([]),
    logger: createLogger('fatal'),
  });
});

after(async () => {
  await client?.close();
  rmSync(dir, { recursive: true, force: true });
});

const alert = (alertId: string, state: 'FIRING' | 'RESOLVED', silencedBy: string | null = null) => ({
  alertId,
  agent: alertId.split('@')[0]!,
  capability: 'c',
  scope: 'capability',
  kind: 'incident',
  state,
  severity: 'major',
  onset: Date.now() - 60_000,
  windowStart: Date.now() - 60_000,
  windowEnd: Date.now(),
  score: 50,
  threshold: 20,
  pValue: 1e-5,
  resolution: state === 'RESOLVED' ? 'recovered' : null,
  acceptedBy: null,
  features: [],
  examples: [],
  silencedBy,
});

test('an alert resolved in the same batch as it fired is not firing; silenced ones only when asked for', async () => {
  // One call stores both rows with one published_at (a backlog closes many windows at once).
  await writer.recordAlerts([alert('both@1', 'FIRING'), alert('both@1', 'RESOLVED')]);
  await writer.recordAlerts([alert('open@1', 'FIRING'), alert('hushed@1', 'FIRING', 'silence-1')]);
  const ids = async (includeSilenced: boolean) =>
    (await readFiringAlerts(client, 86_400_000, Date.now() + 1_000, { includeSilenced }))
      .map((r) => String(r.alert_id))
      .sort();
  assert.deepEqual(await ids(false), ['open@1']);
  assert.deepEqual(await ids(true), ['hushed@1', 'open@1']);
});

test('a destination delivers from its first configuration until its group commits, and from now once its offsets expired', async () => {
  const destination = { id: 'd-1', name: 'webhook http://x' };
  const t0 = Date.UTC(2026, 0, 1);
  assert.equal(await destinationSince(client, destination, t0, false), t0, 'new: from now');
  assert.equal(
    await destinationSince(client, destination, t0 + 60_000, false),
    t0,
    'restarted before its first commit: from its configuration, nothing lost',
  );
  assert.equal(await destinationSince(client, destination, t0 + 120_000, true), 0, 'committed: from the offsets');
  const later = t0 + 3 * 86_400_000;
  assert.equal(
    await destinationSince(client, destination, later, false),
    later,
    'no offsets days later (expired, or added again): from now, not the retained history',
  );
  assert.equal(await destinationSince(client, destination, later + 1_000, false), later);
});
