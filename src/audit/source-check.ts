// Proof against the source: the stored chain of a topic-partition recomputed from the Kafka records
// themselves (`agentwatch verify --against-kafka`). A store rewritten with a chain that was
// recomputed consistently passes `verify` (the chain holds together) but not this: each stored row
// must be the row its record gives, chained on the row of the record before it.
//
// Records are fed in offset order, batch by batch, as the caller reads them from Kafka. The check
// starts at the first stored row at or after the first record read (earlier records were never
// tapped, or the log no longer holds their rows' records), anchored on that row's own prev_hash,
// and stops at the end the caller read to. Version-1 rows hashed correlation outcomes that a
// record alone does not give: they are counted, not compared, and the chain is re-anchored after
// them.

import type { ClickHouseClient } from '@clickhouse/client';
import type { AgentEvent } from '../decode/index.js';
import { auditRowValues, chainHash, writeHashedColumns } from './audit-row.js';
import type { Redactor } from './redaction.js';
import { RowBinaryWriter } from './row-binary.js';
import { storedRows, type StoredRow, type VerifyProblem } from './verify.js';

export interface SourceReport {
  topic: string;
  partition: number;
  /** Rows compared with their records. */
  compared: number;
  /** Version-1 rows met (not comparable). */
  version1Rows: number;
  /** Records read before the first stored row (never tapped). */
  recordsBeforeChain: number;
  /** Records past the stored tail when the check began: not stored yet (agentwatch's lag), not checked. */
  pending: number;
  firstOffset: string | null;
  lastOffset: string | null;
  ok: boolean;
  problem: VerifyProblem | null;
}

export class SourceCheck {
  private readonly scratch = new RowBinaryWriter(1 << 12);
  /** The offset and hash the next record's row must follow (null until the first stored row). */
  private anchor: { offset: string; hash: string } | null = null;
  /** The highest stored offset, read when a record has no row (is it missing, or not stored yet?). */
  private storedTail: bigint | undefined;
  readonly report: SourceReport;

  constructor(
    private readonly client: ClickHouseClient,
    topic: string,
    partition: number,
    private readonly redact: Redactor,
    /** Where the partition's chain began (chain_genesis), when recorded: every record from there on must be stored. */
    private readonly chainStart: string | null = null,
  ) {
    this.report = {
      topic,
      partition,
      compared: 0,
      version1Rows: 0,
      recordsBeforeChain: 0,
      pending: 0,
      firstOffset: null,
      lastOffset: null,
      ok: true,
      problem: null,
    };
  }

  /** Checks the stored rows of one batch of records (offset order); false once a problem is found. */
  async feed(events: readonly AgentEvent[]): Promise<boolean> {
    if (!this.report.ok || events.length === 0) return this.report.ok;
    const { topic, partition } = this.report;
    const stored = new Map<string, StoredRow>();
    // Rows after the previous batch's last record, up to this batch's last: a stored row at an
    // offset no record has (between two records) is found too.
    const from = this.anchor === null ? events[0]!.offset : (BigInt(this.anchor.offset) + 1n).toString();
    for await (const row of storedRows(this.client, {
      topic,
      partition,
      fromOffset: from,
      toOffset: events.at(-1)!.offset,
    })) {
      if (stored.has(row.values.offset))
        return this.fail(row.values.offset, `two rows are stored at offset ${row.values.offset}: one was inserted`);
      stored.set(row.values.offset, row);
    }
    for (const event of events) {
      // A batch read again (the consumer retried it): what was checked already is skipped.
      if (this.anchor !== null && BigInt(event.offset) <= BigInt(this.anchor.offset)) continue;
      const row = stored.get(event.offset);
      const beforeStart = this.chainStart === null || BigInt(event.offset) < BigInt(this.chainStart);
      if (this.anchor === null && row === undefined && beforeStart) {
        this.report.recordsBeforeChain += 1;
        continue;
      }
      if (row === undefined) {
        this.storedTail ??= await this.readStoredTail();
        if (BigInt(event.offset) > this.storedTail) {
          // Past what was stored when the check began: agentwatch has not read it yet (its lag).
          this.report.pending += 1;
          continue;
        }
        return this.fail(event.offset, `record ${event.offset} is in Kafka but not in the store`);
      }
      stored.delete(event.offset);
      this.report.firstOffset ??= event.offset;
      this.report.lastOffset = event.offset;
      if (row.chain_version < 2) {
        this.report.version1Rows += 1;
        this.anchor = { offset: row.values.offset, hash: row.hash };
        continue;
      }
      const prevOffset = this.anchor?.offset ?? row.values.prev_offset;
      const prevHash = this.anchor?.hash ?? row.prev_hash;
      this.scratch.reset();
      writeHashedColumns(this.scratch, auditRowValues(event, prevOffset, this.redact));
      const expected = chainHash(prevHash, this.scratch.bytes());
      if (expected !== row.hash)
        return this.fail(
          event.offset,
          `the row stored at ${event.offset} is not the row its Kafka record gives (chained on the record before it): the store was rewritten`,
        );
      this.report.compared += 1;
      this.anchor = { offset: event.offset, hash: expected };
    }
    const extra = [...stored.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))[0];
    if (extra !== undefined && this.anchor !== null)
      return this.fail(extra, `row ${extra} is stored but Kafka has no record at that offset: it was inserted`);
    return true;
  }

  /** The highest stored offset of the partition (-1 when none). */
  private async readStoredTail(): Promise<bigint> {
    const { topic, partition } = this.report;
    const [row] = await (
      await this.client.query({
        query: `SELECT count() AS n, toString(max(offset)) AS last FROM audit_events
                WHERE topic = {topic:String} AND partition = {partition:UInt32}`,
        query_params: { topic, partition },
        format: 'JSONEachRow',
      })
    ).json<{ n: string | number; last: string }>();
    return row === undefined || Number(row.n) === 0 ? -1n : BigInt(row.last);
  }

  /**
   * Finds a stored row at or beyond `logEnd`, the next offset the Kafka log will assign (read after
   * the records were): no record can have given it.
   */
  async checkBeyond(logEnd: string): Promise<boolean> {
    if (!this.report.ok) return false;
    const { topic, partition } = this.report;
    const [row] = await (
      await this.client.query({
        query: `SELECT count() AS n, toString(min(offset)) AS first FROM audit_events
                WHERE topic = {topic:String} AND partition = {partition:UInt32} AND offset >= {end:UInt64}`,
        query_params: { topic, partition, end: logEnd },
        format: 'JSONEachRow',
      })
    ).json<{ n: string | number; first: string }>();
    if (row === undefined || Number(row.n) === 0) return true;
    return this.fail(
      row.first,
      `row ${row.first} is stored beyond the end of the Kafka log (its next offset is ${logEnd}): no record gave it, it was inserted`,
    );
  }

  private fail(offset: string, detail: string): false {
    this.report.ok = false;
    this.report.problem = { kind: 'source', offset, detail };
    return false;
  }
}
