// Recomputes the hash chain of stored rows and reports the first broken link. Rows are streamed in
// offset order, so any range is verified in bounded memory.
//   altered: the row's hash is not SHA-256(prev_hash, canonical(row)) — a stored field was changed;
//   gap:     the row's prev_offset is not the offset of the row before it — rows were deleted;
//   link:    the row's prev_hash is not the hash of the row before it — a row was replaced whole.
// The first row of a range is anchored on its own prev_hash; checkpoints published to Kafka (an
// independent log) are checked against the stored rows too, which catches a rewritten or truncated
// store that is consistent in itself.

import type { ClickHouseClient } from '@clickhouse/client';
import { chainHash, type HashedRow } from './audit-row.js';

export interface VerifyRange {
  topic: string;
  partition: number;
  /** First offset to check (inclusive); default: the first stored. */
  fromOffset?: string;
  /** Last offset to check (inclusive); default: the last stored. */
  toOffset?: string;
}

export type ProblemKind = 'altered' | 'gap' | 'link' | 'checkpoint';

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

const ROW_COLUMNS = `topic, partition, toString(offset) AS offset, toString(prev_offset) AS prev_offset,
  toUnixTimestamp64Milli(ts) AS ts, key, headers, agent, capability, workflow_id, task_id, message_id, context_id,
  rpc_id, method, step, kind, state, error_type, attempt, payload_bytes, encoding, schema_id, parse_error,
  dlq_reason, latency_ms, retries, timed_out, payload, payload_encoding, prev_hash, hash`;

type StoredRow = HashedRow & { prev_hash: string; hash: string };

export async function verifyPartition(client: ClickHouseClient, range: VerifyRange): Promise<VerifyReport> {
  const report: VerifyReport = {
    topic: range.topic,
    partition: range.partition,
    rowsChecked: 0,
    firstOffset: null,
    lastOffset: null,
    startsAfter: null,
    ok: true,
    problem: null,
  };
  const result = await client.query({
    query: `SELECT ${ROW_COLUMNS} FROM audit_events
            WHERE topic = {topic:String} AND partition = {partition:UInt32}
              AND offset >= {from:UInt64} AND offset <= {to:UInt64}
            ORDER BY offset
            SETTINGS prefer_column_name_to_alias = 1`,
    // The SELECT turns offset into text for hashing; WHERE and ORDER BY must see the UInt64 column
    // (ordering the text would put offset 10 before offset 9). A SETTINGS clause: settings sent
    // with the request would stick to the embedded engine's session.
    query_params: {
      topic: range.topic,
      partition: range.partition,
      from: range.fromOffset ?? '0',
      to: range.toOffset ?? '18446744073709551615',
    },
    format: 'JSONEachRow',
  });
  let previous: StoredRow | undefined;
  for await (const chunk of result.stream()) {
    for (const item of chunk) {
      const row = item.json<StoredRow>();
      const problem = check(row, previous);
      report.rowsChecked += 1;
      report.firstOffset ??= row.offset;
      if (previous === undefined && row.prev_offset !== '-1' && range.fromOffset === undefined)
        report.startsAfter = row.prev_offset;
      report.lastOffset = row.offset;
      previous = row;
      if (problem !== null) {
        report.ok = false;
        report.problem = problem;
        return report; // the first broken link; the stream is abandoned
      }
    }
  }
  return report;
}

function check(row: StoredRow, previous: StoredRow | undefined): VerifyProblem | null {
  if (previous !== undefined && row.prev_offset !== previous.offset) {
    return {
      kind: 'gap',
      offset: row.prev_offset,
      detail: `row ${row.offset} follows offset ${row.prev_offset}, which is not stored (the stored row before it is ${previous.offset})`,
    };
  }
  if (previous !== undefined && row.prev_hash !== previous.hash) {
    return {
      kind: 'link',
      offset: row.offset,
      detail: `row ${row.offset} names a previous hash that is not the hash of row ${previous.offset}`,
    };
  }
  const expected = chainHash(row.prev_hash, row);
  if (expected !== row.hash) {
    return {
      kind: 'altered',
      offset: row.offset,
      detail: `row ${row.offset} does not match its hash: a stored field was changed`,
    };
  }
  return null;
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
