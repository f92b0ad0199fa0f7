// The audit chain (version 2) on the real embedded ClickHouse engine, without Kafka: records are
// decoded by the real decoder and written by the real AuditWriter.
// - RowBinary inserts are stored whole and byte-exact (no truncation, no UTF-8 mangling);
// - the same records through two writers (batch boundaries, a restart, correlated or not, another
//   partition order, the rows' tails written on ingest workers) give byte-identical rows and hashes;
// - Node and SQL verification agree, and find an altered, deleted, inserted and reordered row at
//   its offset; a store holding version-1 rows followed by version-2 rows verifies;
// - a chain-consistent forged row at the tail raises an integrity alarm when the genuine record
//   arrives, which is kept (integrity_findings), not dropped; a deleted first row is a gap;
// - the API's queries still carry latency, retries and timeouts (from task_outcomes).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditRecordSchema } from '../../src/api/schemas.js';
import {
  appendAuditRow,
  AUDIT_TABLE_COLUMNS,
  auditRowValues,
  AuditWriter,
  chainHashV1,
  createClickHouseClient,
  createRedactor,
  insertRowBinary,
  migrate,
  planExport,
  RowBinaryWriter,
  streamExport,
  searchAudit,
  searchIntegrityFindings,
  verifyPartition,
  verifyPartitionInSql,
  workflowTimeline,
  type ClickHouseClient,
  type VerifyReport,
} from '../../src/audit/index.js';
import { INSERT_COLUMNS } from '../../src/audit/audit-row.js';
import { loadConfig } from '../../src/config/index.js';
import { Correlator, type TaskTimeout } from '../../src/correlate/index.js';
import { RecordDecoder, type AgentEvent, type KafkaRecord } from '../../src/decode/index.js';
import { IngestWorkers } from '../../src/ingest-workers.js';
import { createLogger } from '../../src/logger.js';
import { repoRoot } from '../../bench/local-stack.js';

const dir = mkdtempSync(join(tmpdir(), 'aw-chain-'));
let client: ClickHouseClient;
const decoder = new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes: 1 << 20 });
const redact = createRedactor(['params.secret'], 'store');
const logger = createLogger('fatal');
const T0 = 1_767_225_600_000;

before(async () => {
  client = await createClickHouseClient({ ...loadConfig({}).clickhouse, dataDir: dir });
  await migrate(client, { retentionDays: 0 });
});
after(async () => {
  await client?.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A small fleet's records on `prefix`.tasks.x / .results.x, 2 partitions each, offsets spaced by 2
 * (as on a transactional topic), with retries, a timeout, a non-UTF-8 key, repeated binary headers,
 * a redacted secret and an undecodable value.
 */
function fleet(prefix: string, tasks: number): KafkaRecord[] {
  const records: KafkaRecord[] = [];
  const next = new Map<string, number>();
  const push = (
    topic: string,
    partition: number,
    timestamp: number,
    value: unknown,
    extra: Partial<KafkaRecord> = {},
  ) => {
    const at = `${topic}:${partition}`;
    const offset = next.get(at) ?? 0;
    next.set(at, offset + 2);
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value));
    records.push({
      topic,
      partition,
      offset: String(offset),
      timestamp,
      key: `wf-${tasks}`,
      headers: {},
      value: bytes,
      ...extra,
    });
  };
  for (let i = 0; i < tasks; i += 1) {
    const p = i % 2;
    const t = T0 + i * 1_000;
    const request = {
      jsonrpc: '2.0',
      id: `r${i}`,
      method: 'message/send',
      params: { secret: `s-${i}`, message: { taskId: `task-${i}`, contextId: `wf-${i % 5}` } },
    };
    const key = Buffer.from([0xff, i & 0xff, 0x00]);
    const extra: Partial<KafkaRecord> = {
      key: key.toString('utf8'),
      keyBytes: key,
      headers: { 'workflow-id': `wf-${i % 5}`, bin: '\ufffd' },
      headerPairs: [
        ['workflow-id', Buffer.from(`wf-${i % 5}`)],
        ['bin', Buffer.from([0x80, i & 0xff])],
        ['bin', Buffer.from([0x81])],
      ],
    };
    push(`${prefix}.tasks.x`, p, t, request, extra);
    if (i % 7 === 3) push(`${prefix}.tasks.x`, p, t + 400, request, extra); // a retry
    if (i % 11 === 5) continue; // never answered: times out
    const result = {
      jsonrpc: '2.0',
      id: `r${i}`,
      result: { id: `task-${i}`, contextId: `wf-${i % 5}`, status: { state: 'completed' } },
    };
    push(`${prefix}.results.x`, p, t + 250 + (i % 3) * 100, result, { key: `wf-${i % 5}`, headers: {} });
    if (i % 13 === 0) push(`${prefix}.results.x`, p, t + 300, Buffer.from([0xc3, 0x28, 0xff]));
  }
  return records;
}

async function decodeAll(records: readonly KafkaRecord[]): Promise<AgentEvent[]> {
  return decoder.decode(records);
}

function byPartition<T extends { topic: string; partition: number }>(events: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const event of events) {
    const at = `${event.topic}:${event.partition}`;
    out.set(at, [...(out.get(at) ?? []), event]);
  }
  return out;
}

function writer(batchRows = 1_000): AuditWriter {
  return new AuditWriter(client, { batchRows, flushMs: 5, retryMaxMs: 100, redact, logger });
}

/** Writes the events of each partition in batches of `size`, partitions in the given order. */
async function writeAll(
  w: AuditWriter,
  events: readonly AgentEvent[],
  size: number,
  order: (keys: string[]) => string[] = (k) => k,
  timeouts: TaskTimeout[] = [],
): Promise<void> {
  const parts = byPartition(events);
  const pending: Array<Promise<void>> = [];
  for (const at of order([...parts.keys()])) {
    const list = parts.get(at)!;
    for (let i = 0; i < list.length; i += size) {
      const batch = list.slice(i, i + size);
      pending.push(
        w.accept({ topic: batch[0]!.topic, partition: batch[0]!.partition, events: batch, timeouts: [], watermark: 0 }),
      );
    }
  }
  if (timeouts.length > 0) pending.push(w.accept({ topic: '', partition: -1, events: [], timeouts, watermark: 0 }));
  w.flushNow();
  await Promise.all(pending);
}

const ROW_BYTES = `hex(formatRowNoNewline('RowBinary', ${INSERT_COLUMNS.filter((c) => c !== 'ingested_at').join(', ')}))`;

async function storedRows(prefix: string): Promise<string[]> {
  const rows = await (
    await client.query({
      query: `SELECT concat(topic, ':', toString(partition), ':', toString(offset), ':', ${ROW_BYTES}) AS row
              FROM audit_events WHERE startsWith(topic, {prefix:String}) ORDER BY topic, partition, offset`,
      query_params: { prefix: `${prefix}.` },
      format: 'JSONEachRow',
    })
  ).json<{ row: string }>();
  return rows.map((r) => r.row);
}

async function both(topic: string, partition: number): Promise<[VerifyReport, VerifyReport]> {
  return [
    await verifyPartition(client, { topic, partition }),
    await verifyPartitionInSql(client, { topic, partition }),
  ];
}

function problemOf(report: VerifyReport): [string, string] | null {
  return report.problem === null ? null : [report.problem.kind, report.problem.offset];
}

async function run(sql: string): Promise<void> {
  await client.command({ query: `${sql} SETTINGS mutations_sync = 1` });
}

describe('the audit chain, version 2, on the embedded engine', () => {
  test('a 30,000-row RowBinary insert of arbitrary bytes is stored whole and byte-exact', async () => {
    await client.command({ query: 'CREATE TABLE bytes_probe (n UInt64, k String) ENGINE = MergeTree ORDER BY n' });
    const out = new RowBinaryWriter();
    const expected: string[] = [];
    for (let n = 0; n < 30_000; n += 1) {
      const bytes = Buffer.from([n & 0xff, 0xff, 0x00, (n >> 8) & 0xff, 0xc3, 0x28, 0x0a, 0x22]).subarray(
        0,
        1 + (n % 8),
      );
      out.uint64(String(n));
      out.stringBytes(bytes);
      expected.push(bytes.toString('hex').toUpperCase());
    }
    await insertRowBinary(client, 'bytes_probe', ['n', 'k'], Buffer.from(out.bytes()));
    const rows = await (
      await client.query({ query: 'SELECT hex(k) AS k FROM bytes_probe ORDER BY n', format: 'JSONEachRow' })
    ).json<{ k: string }>();
    assert.equal(rows.length, 30_000, 'every row stored');
    assert.deepEqual(
      rows.map((r) => r.k),
      expected,
      'byte-exact',
    );
  });

  test('the same records through two writers give byte-identical rows and hashes', async () => {
    const records = fleet('repro', 60);
    // Writer A: batches of 7, nothing correlated, partitions in order.
    await writeAll(writer(), await decodeAll(records), 7);
    const first = await storedRows('repro');
    assert.ok(first.length > 100, `${first.length} rows`);
    await run("ALTER TABLE audit_events DELETE WHERE startsWith(topic, 'repro.')");
    await run("ALTER TABLE chain_genesis DELETE WHERE startsWith(topic, 'repro.')");
    // Writer B: correlated (latencies, retries, timeouts filled), batches of 13, partitions in reverse,
    // restarted after the first half.
    const events = await decodeAll(records);
    const correlator = new Correlator({ taskTtlMs: 5_000, maxInFlight: 1_000, maxRecent: 1_000 });
    const timeouts = correlator.process(
      [...events].sort((a, b) => a.timestamp - b.timestamp),
      T0 + 1_000_000,
    );
    assert.ok(events.some((e) => e.latencyMs !== null) && events.some((e) => e.retries > 0) && timeouts.length > 0);
    const half = Math.floor(events.length / 2);
    await writeAll(writer(), events.slice(0, half), 13, (k) => k.reverse());
    await writeAll(writer(), events.slice(half), 13, (k) => k.reverse(), timeouts);
    assert.deepEqual(await storedRows('repro'), first, 'identical rows, hashes and links');
    // Writer C: the rows' tails written on ingest worker threads (INGEST_WORKERS), batches of 5.
    await run("ALTER TABLE audit_events DELETE WHERE startsWith(topic, 'repro.')");
    await run("ALTER TABLE chain_genesis DELETE WHERE startsWith(topic, 'repro.')");
    const workers = new IngestWorkers(
      decoder,
      {
        workers: 2,
        maxPayloadBytes: 1 << 20,
        redactPaths: ['params.secret'],
        unparsedPayload: 'store',
      },
      logger,
    );
    try {
      const fromWorkers: AgentEvent[] = [];
      for (const list of byPartition(records).values()) fromWorkers.push(...(await workers.decode(list)));
      assert.ok(
        fromWorkers.every((e) => e.auditRowTail instanceof Uint8Array),
        'every row tail written on a worker',
      );
      await writeAll(writer(), fromWorkers, 5);
    } finally {
      await workers.close();
    }
    assert.deepEqual(await storedRows('repro'), first, 'identical rows and hashes from tails written on workers');
    // The outcomes went to task_outcomes.
    const [outcomes] = await (
      await client.query({
        query: `SELECT countIf(latency_ms >= 0) AS answered, countIf(retries > 0) AS retried, countIf(timed_out = 1) AS timed_out
                FROM task_outcomes FINAL WHERE startsWith(topic, 'repro.')`,
        format: 'JSONEachRow',
      })
    ).json<{ answered: string; retried: string; timed_out: string }>();
    assert.ok(Number(outcomes!.answered) > 0 && Number(outcomes!.retried) > 0, JSON.stringify(outcomes));
    assert.equal(Number(outcomes!.timed_out), timeouts.length);
  });

  test('one column table: the migrated audit_events has exactly its columns and types; the API schema every returned field', async () => {
    const described = await (
      await client.query({ query: 'DESCRIBE TABLE audit_events', format: 'JSONEachRow' })
    ).json<{ name: string; type: string }>();
    const byName = (a: readonly string[], b: readonly string[]) => (a[0]! < b[0]! ? -1 : 1);
    assert.deepEqual(described.map((c) => [c.name, c.type]).sort(byName), [...AUDIT_TABLE_COLUMNS].sort(byName));
    const limits = { timeoutMs: 10_000, maxRows: 10_000 };
    const [record] = (await searchAudit(client, { topic: 'repro.tasks.x' }, { limit: 1 }, limits)).records;
    const fields = Object.keys(record!).sort();
    assert.deepEqual(fields, Object.keys(auditRecordSchema.properties).sort(), 'the API schema lists every field');
    assert.deepEqual(fields, [...auditRecordSchema.required].sort(), 'and requires it');
  });

  test('the API reads latency, retries and timeouts of version-2 rows from task_outcomes', async () => {
    const limits = { timeoutMs: 10_000, maxRows: 10_000 };
    const { records } = await searchAudit(client, { topic: 'repro.results.x' }, { limit: 1_000 }, limits);
    const answers = records.filter((r) => r.kind === 'result');
    assert.ok(
      answers.length > 0 && answers.every((r) => r.latency_ms !== null && r.latency_ms >= 0),
      'every answer has its latency',
    );
    assert.ok(
      answers.some((r) => r.latency_ms === 450 && r.retries === 0),
      'an answer 450 ms after its request',
    );
    const timeline = await workflowTimeline(client, 'wf-3', 1_000, limits);
    assert.ok(
      timeline.records.some((r) => r.kind === 'request' && r.retries > 0),
      'a retried request',
    );
    const all = await searchAudit(client, { topic: 'repro.tasks.x' }, { limit: 1_000 }, limits);
    assert.ok(
      all.records.some((r) => r.timed_out),
      'a timed-out request',
    );
    const opaque = (await searchAudit(client, { topic: 'repro.results.x', kind: 'unknown' }, { limit: 10 }, limits))
      .records[0]!;
    assert.deepEqual(
      [opaque.payload_encoding, opaque.payload],
      ['base64', Buffer.from([0xc3, 0x28, 0xff]).toString('base64')],
    );
  });

  test('an auditor recomputes the chain from an export (format=chain) with the documented script, no agentwatch code', async () => {
    const limits = { timeoutMs: 10_000, maxRows: 100_000 };
    const filter = { topic: 'repro.tasks.x' };
    const plan = await planExport(client, filter, limits);
    let text = '';
    for await (const chunk of streamExport(client, filter, plan, 'chain', limits)) text += String(chunk);
    const file = join(dir, 'chain.ndjson');
    writeFileSync(file, text);
    const script = join(repoRoot, 'docs/recompute-chain.py');
    const clean = spawnSync('python3', [script, file], { encoding: 'utf8' });
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    const reports = clean.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ok: boolean; rows: number });
    assert.deepEqual(
      reports.map((r) => r.ok),
      [true, true],
    );
    assert.equal(
      reports.reduce((n, r) => n + r.rows, 0),
      plan.rows,
    );
    // One payload byte changed in the export: the script names the row.
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const victim = JSON.parse(lines[5]!) as Record<string, string>;
    victim.payload_base64 = Buffer.from(`${Buffer.from(victim.payload_base64!, 'base64').toString()} `).toString(
      'base64',
    );
    lines[5] = JSON.stringify(victim);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const tampered = spawnSync('python3', [script, file], { encoding: 'utf8' });
    assert.equal(tampered.status, 1);
    assert.match(tampered.stdout, new RegExp(`row ${victim.offset} does not match its hash`));
  });

  test('Node and SQL verification agree, and find an altered, deleted, inserted and reordered row at its offset', async () => {
    const events = await decodeAll(fleet('tamper', 40));
    await writeAll(writer(), events, 9);
    const topic = 'tamper.tasks.x';
    for (const partition of [0, 1]) {
      const [node, sql] = await both(topic, partition);
      assert.deepEqual([node.ok, sql.ok, node.rowsChecked], [true, true, sql.rowsChecked], JSON.stringify([node, sql]));
    }
    const results = 'tamper.results.x';
    // Altered: a payload changed in place.
    await run(
      `ALTER TABLE audit_events UPDATE payload = '{"forged":true}' WHERE topic = '${topic}' AND partition = 0 AND offset = 10`,
    );
    // Deleted: a row in the middle.
    await run(`ALTER TABLE audit_events DELETE WHERE topic = '${topic}' AND partition = 1 AND offset = 12`);
    // Inserted: a copy of row 6 at offset 7 (between two stored offsets).
    await client.command({
      query: `INSERT INTO audit_events SELECT * REPLACE (toUInt64(7) AS offset)
              FROM (SELECT * FROM audit_events WHERE topic = '${results}' AND partition = 0 AND offset = 6)`,
    });
    // Reordered: rows 8 and 10 of results:1 swap places.
    const hashes = await (
      await client.query({
        query: `SELECT hash FROM audit_events WHERE topic = '${results}' AND partition = 1 AND offset IN (8, 10) ORDER BY offset`,
        format: 'JSONEachRow',
      })
    ).json<{ hash: string }>();
    await client.command({
      query: `INSERT INTO audit_events SELECT * REPLACE (if(offset = 8, toUInt64(10), toUInt64(8)) AS offset)
              FROM (SELECT * FROM audit_events WHERE topic = '${results}' AND partition = 1 AND offset IN (8, 10))`,
    });
    await run(
      `ALTER TABLE audit_events DELETE WHERE topic = '${results}' AND partition = 1 AND ((offset = 8 AND hash = '${hashes[0]!.hash}') OR (offset = 10 AND hash = '${hashes[1]!.hash}'))`,
    );
    const expectations: Array<[string, number, [string, string]]> = [
      [topic, 0, ['altered', '10']],
      [topic, 1, ['gap', '12']],
      [results, 0, ['inserted', '7']],
      [results, 1, ['gap', '8']],
    ];
    for (const [t, p, expected] of expectations) {
      const [node, sql] = await both(t, p);
      assert.deepEqual(problemOf(node), expected, `Node, ${t}:${p}`);
      assert.deepEqual(problemOf(sql), expected, `SQL, ${t}:${p}`);
    }
  });

  test('a store holding version-1 rows followed by version-2 rows verifies end to end; a changed version-1 row is found', async () => {
    const topic = 'mixed.tasks.x';
    let prevHash = '';
    let prevOffset = '-1';
    const v1 = [];
    for (let offset = 0; offset < 5; offset += 1) {
      const row = {
        topic,
        partition: 0,
        offset: String(offset),
        prev_offset: prevOffset,
        ts: T0 + offset,
        key: 'wf-1',
        headers: { a: '1' },
        producer: 'x',
        capability: 'x',
        workflow_id: 'wf-1',
        task_id: `t${offset}`,
        message_id: '',
        context_id: '',
        rpc_id: '',
        method: 'SendMessage',
        step: '',
        kind: 'request',
        state: '',
        error_type: '',
        attempt: 1,
        payload_bytes: 2,
        encoding: 'json',
        schema_id: -1,
        parse_error: '',
        dlq_reason: '',
        latency_ms: -1,
        retries: 0,
        timed_out: 0,
        payload: '{}',
        payload_encoding: 'text',
      };
      const hash = chainHashV1(prevHash, row);
      v1.push({ ...row, ts: T0 + offset, prev_hash: prevHash, hash, ingested_at: T0, chain_version: 1 });
      prevHash = hash;
      prevOffset = String(offset);
    }
    await client.insert({ table: 'audit_events', values: v1, format: 'JSONEachRow' });
    const v2 = (await decodeAll(fleet('mixed', 6))).filter((e) => e.topic === topic && e.partition === 0);
    const shifted = v2.map((e, i) => ({ ...e, offset: String(10 + i) }));
    await writeAll(writer(), shifted, 2);
    const [node, sql] = await both(topic, 0);
    assert.deepEqual(
      [node.ok, sql.ok, node.rowsChecked],
      [true, true, 5 + shifted.length],
      JSON.stringify(node.problem),
    );
    await run(`ALTER TABLE audit_events UPDATE task_id = 'forged' WHERE topic = '${topic}' AND offset = 2`);
    assert.deepEqual(problemOf(await verifyPartition(client, { topic, partition: 0 })), ['altered', '2']);
  });

  test('a forged row at the tail raises an integrity alarm when the genuine record arrives; the record is kept', async () => {
    const events = (await decodeAll(fleet('forge', 20))).filter(
      (e) => e.topic === 'forge.tasks.x' && e.partition === 0,
    );
    const stored = events.slice(0, 5);
    await writeAll(writer(), stored, 5);
    // The forger appends a chain-consistent row at the next offset before the genuine record arrives.
    const genuine = events[5]!;
    const [tail] = await (
      await client.query({
        query: `SELECT toString(max(offset)) AS o, argMax(hash, offset) AS h FROM audit_events WHERE topic = 'forge.tasks.x' AND partition = 0`,
        format: 'JSONEachRow',
      })
    ).json<{ o: string; h: string }>();
    const forged = { ...genuine, taskId: 'forged-task', value: Buffer.from('{"forged":true}') } as AgentEvent;
    const out = new RowBinaryWriter();
    appendAuditRow(out, auditRowValues(forged, tail!.o, redact), tail!.h);
    out.length -= 8;
    out.int64(Date.now());
    await insertRowBinary(client, 'audit_events', INSERT_COLUMNS, Buffer.from(out.bytes()));
    const [node, sql] = await both('forge.tasks.x', 0);
    assert.deepEqual([node.ok, sql.ok], [true, true], 'the chain alone cannot tell a consistent forgery');
    // A restarted writer is offered the genuine records from offset 10 on.
    const restarted = writer();
    await writeAll(restarted, events.slice(5, 8), 3);
    assert.equal(restarted.stats().integrityAlarms, 1);
    const findings = await (
      await client.query({
        query: `SELECT toString(offset) AS offset, kind, stored_hash, length(record_row) AS bytes FROM integrity_findings WHERE topic = 'forge.tasks.x'`,
        format: 'JSONEachRow',
      })
    ).json<{ offset: string; kind: string; stored_hash: string; bytes: number }>();
    assert.deepEqual(
      findings.map((f) => [f.offset, f.kind]),
      [[genuine.offset, 'conflict']],
    );
    assert.ok(Number(findings[0]!.bytes) > 50, 'the genuine row is kept');
    const listed = await searchIntegrityFindings(client, { topic: 'forge.tasks.x' }, 10, {
      timeoutMs: 10_000,
      maxRows: 10,
    });
    assert.deepEqual(
      listed.map((f) => [f.offset, f.kind, f.stored_hash === findings[0]!.stored_hash]),
      [[genuine.offset, 'conflict', true]],
      'and listed by the API (GET /v1/audit/integrity)',
    );
  });

  test('records older than the chain, read again (offsets reset), are counted, not alarms', async () => {
    const events = (await decodeAll(fleet('reset', 12))).filter(
      (e) => e.topic === 'reset.tasks.x' && e.partition === 0,
    );
    await writeAll(writer(), events.slice(3), 4); // the chain begins at the fourth record
    const again = writer();
    await writeAll(again, events, 5); // the group's offsets reset to the beginning
    assert.deepEqual(
      [again.stats().recordsBeforeChain, again.stats().integrityAlarms, again.stats().rowsWritten],
      [3, 0, 0],
    );
  });

  test('a deleted first row is a gap at the head of the chain (chain_genesis)', async () => {
    const events = (await decodeAll(fleet('head', 10))).filter((e) => e.topic === 'head.tasks.x');
    await writeAll(writer(), events, 4);
    await run(`ALTER TABLE audit_events DELETE WHERE topic = 'head.tasks.x' AND partition = 1 AND offset = 0`);
    const [node, sql] = await both('head.tasks.x', 1);
    assert.deepEqual(problemOf(node), ['gap', '0']);
    assert.deepEqual(problemOf(sql), ['gap', '0']);
    const [untouched] = await both('head.tasks.x', 0);
    assert.equal(untouched.ok, true);
    // With a retention TTL the head is purged as it ages: where the chain now starts is reported.
    await client.command({ query: 'ALTER TABLE audit_events MODIFY TTL toDateTime(ingested_at) + INTERVAL 3650 DAY' });
    try {
      const [purged, purgedSql] = await both('head.tasks.x', 1);
      assert.deepEqual([purged.ok, purged.startsAfter, purgedSql.ok, purgedSql.startsAfter], [true, '0', true, '0']);
    } finally {
      await client.command({ query: 'ALTER TABLE audit_events REMOVE TTL' });
    }
  });
});
