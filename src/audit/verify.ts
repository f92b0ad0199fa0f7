// Recomputes the hash chain of stored rows and reports the first broken link. Rows are read in
// offset order, a page at a time, so any range is verified in bounded memory.
//   altered: the row's hash is not the hash of its own content after prev_hash — a stored field was changed;
//   gap:     the row's prev_offset is not the offset of the row before it — rows were deleted (also:
//            the first stored row is not where the partition's chain began, chain_genesis);
//   inserted: the row before this one is not the predecessor this row names — that row was added;
//   link:    the row's prev_hash is not the hash of the row before it — a row was replaced whole.
// Each row is checked in the form its chain_version names (1: chain-v1.ts; 2: audit-row.ts), so a
// store holding version-1 rows followed by version-2 rows verifies end to end. Node reads a version-2
// row's values and builds its RowBinary bytes again with the writer's encoder; verifyPartitionInSql
// has ClickHouse rebuild the same bytes itself (formatRowNoNewline), so the two are independent
// checks of one definition. The first row of a range is anchored on its own prev_hash; checkpoints
// published to Kafka (an independent log) are checked against the stored rows too, which catches a
// rewritten or truncated store that is consistent in itself, and `verify --against-kafka` checks the
// rows against the records themselves.

import type { ClickHouseClient } from '@clickhouse/client';
import { chainHash, INSERT_COLUMNS, SQL_ROW_HASH, writeHashedColumns, type AuditRowValues } from './audit-row.js';
import { chainHashV1, type RowV1 } from './chain-v1.js';
import { RowBinaryReader, RowBinaryWriter } from './row-binary.js';

export interface VerifyRange {
  topic: string;
  partition: number;
  /** First offset to check (inclusive); default: the first stored. */
  fromOffset?: string;
  /** Last offset to check (inclusive); default: the last stored. */
  toOffset?: string;
}

export type ProblemKind = 'altered' | 'gap' | 'inserted' | 'link' | 'checkpoint' | 'source';

export interface VerifyProblem {
  kind: ProblemKind;
  /** The offset of the altered row, or the missing one for a gap. */
  offset: string;
  detail: string;
}

export interface VerifyReport {
  topic: string;
  partition: number;
  rowsChecked: number;
  firstOffset: string | null;
  lastOffset: string | null;
  /** prev_offset of the first stored row when it is not -1: rows before it are not stored (retention, or deleted). */
  startsAfter: string | null;
  ok: boolean;
  problem: VerifyProblem | null;
}

export interface Checkpoint {
  topic: string;
  partition: number;
  offset: string;
  hash: string;
}

/** A stored row as read back: the version-2 values, and what version 1 also hashed. */
export interface StoredRow {
  values: AuditRowValues;
  latency_ms: number;
  retries: number;
  timed_out: number;
  prev_hash: string;
  hash: string;
  chain_version: number;
}

/** Rows read per query while verifying. */
const PAGE_ROWS = 20_000;

/** What is read back of each row: the insert's columns but ingested_at, in the same order. */
const STORED_COLUMNS = INSERT_COLUMNS.filter((column) => column !== 'ingested_at').join(', ');

/** Reads one stored row (STORED_COLUMNS in RowBinary). */
function readStoredRow(reader: RowBinaryReader): StoredRow {
  const prev_hash = reader.string();
  const topic = reader.string();
  const partition = reader.uint32();
  const offset = reader.uint64();
  const prev_offset = reader.int64();
  const ts = Number(reader.int64());
  const key = reader.stringBytes();
  const headers: Array<readonly [string, Buffer]> = [];
  for (let n = reader.varint(); n > 0; n -= 1) headers.push([reader.string(), reader.stringBytes()]);
  const values: AuditRowValues = {
    topic,
    partition,
    offset,
    prev_offset,
    ts,
    key,
    headers,
    producer: reader.string(),
    capability: reader.string(),
    workflow_id: reader.string(),
    task_id: reader.string(),
    message_id: reader.string(),
    context_id: reader.string(),
    rpc_id: reader.string(),
    method: reader.string(),
    step: reader.string(),
    kind: reader.string(),
    state: reader.string(),
    error_type: reader.string(),
    attempt: reader.uint16(),
    payload_bytes: reader.uint32(),
    encoding: reader.string(),
    schema_id: Number(reader.int64()),
    parse_error: reader.string(),
    dlq_reason: reader.string(),
    payload: reader.stringBytes(),
    payload_encoding: reader.string(),
  };
  return {
    values,
    latency_ms: Number(reader.int64()),
    retries: reader.uint16(),
    timed_out: reader.uint8(),
    prev_hash,
    hash: reader.string(),
    chain_version: reader.uint8(),
  };
}

/** The version-1 form of a stored row. */
function asV1(row: StoredRow): RowV1 {
  const v = row.values;
  const headers: Record<string, string> = {};
  for (const [name, value] of v.headers) headers[name] = Buffer.from(value).toString('utf8');
  return {
    ...v,
    key: Buffer.from(v.key).toString('utf8'),
    headers,
    payload: Buffer.from(v.payload).toString('utf8'),
    latency_ms: row.latency_ms,
    retries: row.retries,
    timed_out: row.timed_out,
  };
}

/** The hash a stored row's content gives after its prev_hash, in the form of its chain version. */
export function recomputeHash(row: StoredRow, scratch = new RowBinaryWriter(1 << 12)): string {
  if (row.chain_version < 2) return chainHashV1(row.prev_hash, asV1(row));
  scratch.reset();
  writeHashedColumns(scratch, row.values);
  return chainHash(row.prev_hash, scratch.bytes());
}

/** Reads stored rows of a range in offset order, a page at a time. */
export async function* storedRows(client: ClickHouseClient, range: VerifyRange): AsyncGenerator<StoredRow> {
  let after: { offset: string; hash: string } | null = null;
  for (;;) {
    const result = await client.exec({
      // Pages by (offset, hash): two rows at one offset (an inserted copy) straddling a page end are both read.
      query: `SELECT ${STORED_COLUMNS} FROM audit_events
              WHERE topic = {topic:String} AND partition = {partition:UInt32}
                AND offset >= {from:UInt64} AND offset <= {to:UInt64}
                ${after === null ? '' : 'AND (offset, hash) > ({after:UInt64}, {afterHash:String})'}
              ORDER BY offset, hash LIMIT ${PAGE_ROWS}
              FORMAT RowBinary`,
      query_params: {
        topic: range.topic,
        partition: range.partition,
        from: range.fromOffset ?? '0',
        to: range.toOffset ?? '18446744073709551615',
        ...(after === null ? {} : { after: after.offset, afterHash: after.hash }),
      },
    });
    const chunks: Buffer[] = [];
    for await (const chunk of result.stream) chunks.push(chunk as Buffer);
    const reader = new RowBinaryReader(Buffer.concat(chunks));
    let rows = 0;
    while (!reader.done) {
      const row = readStoredRow(reader);
      rows += 1;
      after = { offset: row.values.offset, hash: row.hash };
      yield row;
    }
    if (rows < PAGE_ROWS) return;
  }
}

/**
 * Where the partition's chain began (chain_genesis), or null when not recorded (stores before chain
 * version 2) or when audit_events has a retention TTL (AUDIT_RETENTION_DAYS): then the head of a
 * chain is purged as it ages, and verify reports where it now starts (startsAfter) instead.
 */
export async function chainGenesis(client: ClickHouseClient, topic: string, partition: number): Promise<string | null> {
  if (await hasRetention(client)) return null;
  const [row] = await (
    await client.query({
      query: `SELECT count() AS n, toString(min(first_offset)) AS first FROM chain_genesis
              WHERE topic = {topic:String} AND partition = {partition:UInt32}`,
      query_params: { topic, partition },
      format: 'JSONEachRow',
    })
  ).json<{ n: string | number; first: string }>();
  return row === undefined || Number(row.n) === 0 ? null : row.first;
}

/** Whether audit_events expires rows (a TTL clause: AUDIT_RETENTION_DAYS > 0 when it was created). */
async function hasRetention(client: ClickHouseClient): Promise<boolean> {
  const [row] = await (
    await client.query({
      query: `SELECT create_table_query AS ddl FROM system.tables WHERE database = currentDatabase() AND name = 'audit_events'`,
      format: 'JSONEachRow',
    })
  ).json<{ ddl: string }>();
  return row !== undefined && /\bTTL\b/.test(row.ddl);
}

export async function verifyPartition(client: ClickHouseClient, range: VerifyRange): Promise<VerifyReport> {
  const report = emptyReport(range);
  const genesis = range.fromOffset === undefined ? await chainGenesis(client, range.topic, range.partition) : null;
  const scratch = new RowBinaryWriter(1 << 12);
  // Each row is checked once the row after it is read (an inserted row is told by who names whom).
  let previous: StoredRow | undefined;
  let current: StoredRow | undefined;
  const checkCurrent = (next: StoredRow | undefined): VerifyProblem | null => {
    const row = current!;
    const offset = row.values.offset;
    report.rowsChecked += 1;
    report.firstOffset ??= offset;
    report.lastOffset = offset;
    if (previous === undefined) {
      if (row.values.prev_offset !== '-1' && range.fromOffset === undefined)
        report.startsAfter = row.values.prev_offset;
      if (genesis !== null && offset !== genesis) return headGap(genesis, offset);
    }
    return check(row, previous, next, scratch);
  };
  for await (const row of storedRows(client, range)) {
    if (current !== undefined) {
      const problem = checkCurrent(row);
      if (problem !== null) return fail(report, problem); // the first broken link
      previous = current;
    }
    current = row;
  }
  if (current !== undefined) {
    const problem = checkCurrent(undefined);
    if (problem !== null) return fail(report, problem);
  } else if (genesis !== null) return fail(report, headGap(genesis, null));
  return report;
}

function emptyReport(range: VerifyRange): VerifyReport {
  return {
    topic: range.topic,
    partition: range.partition,
    rowsChecked: 0,
    firstOffset: null,
    lastOffset: null,
    startsAfter: null,
    ok: true,
    problem: null,
  };
}

function fail(report: VerifyReport, problem: VerifyProblem): VerifyReport {
  report.ok = false;
  report.problem = problem;
  return report;
}

function headGap(genesis: string, firstStored: string | null): VerifyProblem {
  return {
    kind: 'gap',
    offset: genesis,
    detail:
      firstStored === null
        ? `the chain began at offset ${genesis} (chain_genesis) but no row is stored`
        : `the chain began at offset ${genesis} (chain_genesis) but the first stored row is ${firstStored}: its head was deleted`,
  };
}

/**
 * The checks of one row, in order: its named predecessor is the row before it (else a row between
 * them is missing, or one of the two was inserted: the one the next row does not name), its
 * previous hash is that row's hash, and its own hash matches its content.
 */
function check(
  row: StoredRow,
  previous: StoredRow | undefined,
  next: StoredRow | undefined,
  scratch: RowBinaryWriter,
): VerifyProblem | null {
  const offset = row.values.offset;
  if (previous !== undefined && row.values.prev_offset !== previous.values.offset) {
    const named = BigInt(row.values.prev_offset);
    const before = BigInt(previous.values.offset);
    if (named > before && offset !== previous.values.offset) {
      return {
        kind: 'gap',
        offset: row.values.prev_offset,
        detail: `row ${offset} follows offset ${row.values.prev_offset}, which is not stored (the stored row before it is ${previous.values.offset})`,
      };
    }
    const inserted =
      next === undefined || next.values.prev_offset === previous.values.offset ? offset : previous.values.offset;
    return {
      kind: 'inserted',
      offset: inserted,
      detail: `row ${inserted} is not in the chain: row ${offset} follows offset ${row.values.prev_offset}, the stored row before it is ${previous.values.offset}`,
    };
  }
  if (previous !== undefined && row.prev_hash !== previous.hash) {
    return {
      kind: 'link',
      offset,
      detail: `row ${offset} names a previous hash that is not the hash of row ${previous.values.offset}`,
    };
  }
  if (recomputeHash(row, scratch) !== row.hash) {
    return {
      kind: 'altered',
      offset,
      detail: `row ${offset} does not match its hash: a stored field was changed`,
    };
  }
  return null;
}

/**
 * The same checks as verifyPartition, computed by ClickHouse alone: each version-2 row's hash from
 * its own RowBinary serialisation (SQL_ROW_HASH), and each row's link to the one before it
 * (version-1 rows: links only, their JSON form is checked in Node).
 */
export async function verifyPartitionInSql(client: ClickHouseClient, range: VerifyRange): Promise<VerifyReport> {
  const report = emptyReport(range);
  const params = {
    topic: range.topic,
    partition: range.partition,
    from: range.fromOffset ?? '0',
    to: range.toOffset ?? '18446744073709551615',
  };
  const [summary] = await (
    await client.query({
      query: `SELECT count() AS n, toString(min(offset)) AS first, toString(max(offset)) AS last,
                toString(argMin(prev_offset, offset)) AS starts_after
              FROM audit_events WHERE topic = {topic:String} AND partition = {partition:UInt32}
                AND offset >= {from:UInt64} AND offset <= {to:UInt64}`,
      query_params: params,
      format: 'JSONEachRow',
    })
  ).json<{ n: string | number; first: string; last: string; starts_after: string }>();
  const rows = Number(summary?.n ?? 0);
  const genesis = range.fromOffset === undefined ? await chainGenesis(client, range.topic, range.partition) : null;
  if (rows === 0) return genesis === null ? report : fail(report, headGap(genesis, null));
  report.firstOffset = summary!.first;
  report.lastOffset = summary!.last;
  if (range.fromOffset === undefined && summary!.starts_after !== '-1') report.startsAfter = summary!.starts_after;
  const [broken] = await (
    await client.query({
      query: `SELECT toString(offset) AS at, toString(prev_offset) AS prev, toString(prior_offset) AS prior, problem FROM (
                SELECT offset, prev_offset, prior_offset,
                  multiIf(n > 1 AND prev_offset > toInt64(prior_offset) AND offset != prior_offset, 'gap',
                          n > 1 AND prev_offset != toInt64(prior_offset),
                            if(next_prev IS NULL OR next_prev = toInt64(prior_offset), 'inserted', 'inserted-before'),
                          n > 1 AND prev_hash != prior_hash, 'link',
                          altered, 'altered', '') AS problem
                FROM (
                  SELECT offset, prev_offset, prev_hash, altered, row_number() OVER w AS n,
                    lagInFrame(offset, 1) OVER w AS prior_offset, lagInFrame(hash, 1) OVER w AS prior_hash,
                    leadInFrame(toNullable(prev_offset), 1) OVER w AS next_prev
                  FROM (
                    -- Each row's own check first, so that the window sorts only small columns, not payloads.
                    SELECT offset, prev_offset, prev_hash, hash, chain_version >= 2 AND ${SQL_ROW_HASH} != hash AS altered
                    FROM audit_events
                    WHERE topic = {topic:String} AND partition = {partition:UInt32}
                      AND offset >= {from:UInt64} AND offset <= {to:UInt64}
                  )
                  WINDOW w AS (ORDER BY offset, hash ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)
                )
              ) WHERE problem != '' ORDER BY offset LIMIT 1`,
      query_params: params,
      format: 'JSONEachRow',
    })
  ).json<{ at: string; prev: string; prior: string; problem: ProblemKind | 'inserted-before' }>();
  if (genesis !== null && summary!.first !== genesis) return fail(report, headGap(genesis, summary!.first));
  report.rowsChecked = rows;
  if (broken === undefined) return report;
  const at = broken.problem === 'gap' ? broken.prev : broken.problem === 'inserted-before' ? broken.prior : broken.at;
  const kind: ProblemKind = broken.problem === 'inserted-before' ? 'inserted' : broken.problem;
  return fail(report, {
    kind,
    offset: at,
    detail:
      kind === 'gap'
        ? `row ${broken.at} follows offset ${broken.prev}, which is not stored (the stored row before it is ${broken.prior})`
        : kind === 'inserted'
          ? `row ${at} is not in the chain: row ${broken.at} follows offset ${broken.prev}, the stored row before it is ${broken.prior}`
          : kind === 'link'
            ? `row ${broken.at} names a previous hash that is not the hash of row ${broken.prior}`
            : `row ${broken.at} does not match its hash: a stored field was changed`,
  });
}

/** The stored topic-partitions, for verifying everything. */
export async function storedPartitions(client: ClickHouseClient): Promise<Array<{ topic: string; partition: number }>> {
  const rows = await (
    await client.query({
      query: 'SELECT DISTINCT topic, partition FROM audit_events ORDER BY topic, partition',
      format: 'JSONEachRow',
    })
  ).json<{ topic: string; partition: number }>();
  return rows.map((r) => ({ topic: r.topic, partition: Number(r.partition) }));
}

/** Checks that each checkpoint's row is stored with the checkpointed hash; returns the first mismatch. */
export async function verifyCheckpoints(
  client: ClickHouseClient,
  checkpoints: readonly Checkpoint[],
): Promise<(VerifyProblem & { topic: string; partition: number }) | null> {
  for (const cp of checkpoints) {
    const rows = await (
      await client.query({
        query:
          'SELECT hash FROM audit_events WHERE topic = {topic:String} AND partition = {partition:UInt32} AND offset = {offset:UInt64}',
        query_params: { topic: cp.topic, partition: cp.partition, offset: cp.offset },
        format: 'JSONEachRow',
      })
    ).json<{ hash: string }>();
    if (rows.length === 0)
      return {
        topic: cp.topic,
        partition: cp.partition,
        kind: 'checkpoint',
        offset: cp.offset,
        detail: `checkpointed row ${cp.offset} is not stored`,
      };
    if (rows[0]!.hash !== cp.hash)
      return {
        topic: cp.topic,
        partition: cp.partition,
        kind: 'checkpoint',
        offset: cp.offset,
        detail: `row ${cp.offset} has a different hash than its checkpoint: the store was rewritten`,
      };
  }
  return null;
}
