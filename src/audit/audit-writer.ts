// The audit sink: every event becomes one hash-chained row of audit_events, inserted in batches
// (AUDIT_BATCH_ROWS rows or AUDIT_FLUSH_MS, whichever first, or at once when the pipeline says every
// batch in progress waits on the sinks: group commit). A batch of the pipeline is accepted only after
// ClickHouse confirmed the insert that holds its rows.
//
// Exactly once in effect: the writer knows the stored tail (offset, hash) of every topic-partition
// (read from ClickHouse the first time it sees it) and skips records at or below it, so a record
// redelivered after a crash, already stored before the crash, is not stored again. This needs
// inserts that are all-or-nothing: the table is partitioned by month of ingestion, so one insert is
// one part. And it needs the writer never to give up on rows it has chained: while ClickHouse
// refuses, it retries with backoff (ingest waits, Kafka keeps the backlog) and never rejects, since
// a batch offered again would be skipped as already stored.

import type { ClickHouseClient } from '@clickhouse/client';
import type { CorrelatedBatch, EventSink } from '../correlate/index.js';
import type { Logger } from '../logger.js';
import { chainRow, clickhouseTime, INSERT_COLUMNS, type ChainedRow } from './audit-row.js';
import type { Redactor } from './redaction.js';

export interface AuditWriterOptions {
  batchRows: number;
  flushMs: number;
  retryMaxMs: number;
  redact: Redactor;
  logger: Logger;
  /** Told about every confirmed insert: rows per topic, and how long it took (metrics). */
  onInsert?: (rowsByTopic: ReadonlyMap<string, number>, seconds: number) => void;
}

export interface ChainTail {
  /** Last stored offset, -1n when nothing is stored. */
  offset: bigint;
  hash: string;
}

export interface AuditWriterStats {
  rowsWritten: number;
  duplicatesSkipped: number;
  flushes: number;
  insertRetries: number;
  buffered: number;
}

const INSERT_STATEMENT = `INSERT INTO audit_events (${INSERT_COLUMNS.join(', ')}) FORMAT JSONCompactEachRow`;

export class AuditWriter implements EventSink {
  readonly name = 'audit';
  private readonly tails = new Map<string, ChainTail>();
  /** Last row per topic-partition that ClickHouse confirmed, not yet checkpointed. */
  private readonly confirmed = new Map<string, { topic: string; partition: number; offset: string; hash: string }>();
  private buffer: ChainedRow[] = [];
  private waiting: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  /** accept calls that have not yet handed their rows to the buffer. */
  private accepting = 0;
  private flushWanted = false;
  private readonly counters = { rowsWritten: 0, duplicatesSkipped: 0, flushes: 0, insertRetries: 0 };

  constructor(
    private readonly client: ClickHouseClient,
    private readonly options: AuditWriterOptions,
  ) {}

  async accept(batch: CorrelatedBatch): Promise<void> {
    if (batch.events.length === 0) return; // an event-clock tick: nothing to store
    this.accepting += 1;
    let queued: Promise<void> | undefined;
    try {
      const tail = await this.tail(batch.topic, batch.partition);
      const rows: ChainedRow[] = [];
      for (const event of batch.events) {
        const offset = BigInt(event.offset);
        if (offset <= tail.offset) {
          this.counters.duplicatesSkipped += 1;
          continue;
        }
        const chained = chainRow(
          event,
          tail.offset < 0n ? '-1' : tail.offset.toString(),
          tail.hash,
          this.options.redact,
        );
        tail.offset = offset;
        tail.hash = chained.row.hash;
        rows.push(chained);
      }
      if (rows.length > 0) queued = this.enqueue(rows);
    } finally {
      this.accepting -= 1;
      if (this.flushWanted && this.accepting === 0) {
        this.flushWanted = false;
        void this.flush();
      }
    }
    await queued;
  }

  /** Group commit: no more rows come until these are written, so write them now (once the accepts under way have buffered theirs). */
  flushNow(): void {
    if (this.accepting > 0) this.flushWanted = true;
    else if (this.buffer.length > 0) void this.flush();
  }

  /** The stored chain tail of a topic-partition (cached after the first read). */
  async tail(topic: string, partition: number): Promise<ChainTail> {
    const key = `${topic}:${partition}`;
    const known = this.tails.get(key);
    if (known !== undefined) return known;
    const tail = await this.retrying(`reading the chain tail of ${key}`, async () => {
      const rows = await (
        await this.client.query({
          query: `SELECT count() AS n, toString(max(offset)) AS tail_offset, argMax(hash, offset) AS tail_hash
                FROM audit_events WHERE topic = {topic:String} AND partition = {partition:UInt32}`,
          query_params: { topic, partition },
          format: 'JSONEachRow',
        })
      ).json<{ n: string | number; tail_offset: string; tail_hash: string }>();
      const found = rows[0];
      return found === undefined || Number(found.n) === 0
        ? { offset: -1n, hash: '' }
        : { offset: BigInt(found.tail_offset), hash: found.tail_hash };
    });
    // Another accept for the same partition may have read it meanwhile; keep the first.
    const existing = this.tails.get(key);
    if (existing !== undefined) return existing;
    this.tails.set(key, tail);
    return tail;
  }

  /** The confirmed chain tails that moved since the last call (for checkpoints). */
  takeCheckpoints(): Array<{ topic: string; partition: number; offset: string; hash: string }> {
    const moved = [...this.confirmed.values()];
    this.confirmed.clear();
    return moved;
  }

  /** Stores alerts in the anomalies table (retrying like rows do). */
  async recordAlerts(
    alerts: ReadonlyArray<{
      alertId: string;
      agent: string;
      capability: string;
      scope: string;
      kind: string;
      state: string;
      severity: string;
      onset: number;
      windowStart: number;
      windowEnd: number;
      score: number;
      threshold: number;
      pValue: number;
      resolution: string | null;
      acceptedBy: string | null;
      features: unknown[];
    }>,
  ): Promise<void> {
    if (alerts.length === 0) return;
    const values = alerts.map((a) => ({
      alert_id: a.alertId,
      agent: a.agent,
      capability: a.capability,
      scope: a.scope,
      kind: a.kind,
      resolution: a.resolution ?? '',
      accepted_by: a.acceptedBy ?? '',
      state: a.state,
      severity: a.severity,
      onset: clickhouseTime(a.onset),
      window_start: clickhouseTime(a.windowStart),
      window_end: clickhouseTime(a.windowEnd),
      score: a.score,
      threshold: a.threshold,
      p_value: a.pValue,
      features: JSON.stringify(a.features, (_k, v: unknown) =>
        typeof v === 'number' && !Number.isFinite(v) ? null : v,
      ),
      published_at: clickhouseTime(Date.now()),
    }));
    await this.retrying(`inserting ${alerts.length} anomalies`, () =>
      this.client.insert({ table: 'anomalies', values, format: 'JSONEachRow' }),
    );
  }

  stats(): AuditWriterStats {
    return { ...this.counters, buffered: this.buffer.length };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private enqueue(rows: ChainedRow[]): Promise<void> {
    const done = new Promise<void>((resolve) => this.waiting.push(resolve));
    this.buffer.push(...rows);
    if (this.buffer.length >= this.options.batchRows) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
    return done;
  }

  /** Inserts what is buffered, after any flush in progress (flushes never overlap). */
  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.buffer;
    const waiting = this.waiting;
    this.buffer = [];
    this.waiting = [];
    this.flushing = this.flushing.then(async () => {
      if (rows.length === 0) {
        for (const resolve of waiting) resolve();
        return;
      }
      // JSONCompactEachRow written by hand from the cells hashed at accept time: each value is
      // serialised once, and ClickHouse parses compact rows faster than named ones.
      const ingestedAt = JSON.stringify(clickhouseTime(Date.now()));
      let body = '';
      for (const { cells } of rows) body += `[${ingestedAt},${cells}]\n`;
      const started = performance.now();
      await this.retrying(`inserting ${rows.length} audit rows`, () =>
        this.client.command({ query: `${INSERT_STATEMENT}\n${body}` }),
      );
      const seconds = (performance.now() - started) / 1000;
      this.counters.rowsWritten += rows.length;
      this.counters.flushes += 1;
      // Rows of one topic-partition are buffered in offset order, so its last row is its new tail.
      const lastByPartition = new Map<string, ChainedRow['row']>();
      const byTopic = new Map<string, number>();
      for (const { row } of rows) {
        lastByPartition.set(`${row.topic}:${row.partition}`, row);
        byTopic.set(row.topic, (byTopic.get(row.topic) ?? 0) + 1);
      }
      for (const [key, row] of lastByPartition) {
        const last = this.confirmed.get(key);
        if (last === undefined || BigInt(row.offset) > BigInt(last.offset))
          this.confirmed.set(key, { topic: row.topic, partition: row.partition, offset: row.offset, hash: row.hash });
      }
      this.options.onInsert?.(byTopic, seconds);
      for (const resolve of waiting) resolve();
    });
    return this.flushing;
  }

  private async retrying<T>(what: string, step: () => Promise<T>): Promise<T> {
    let backoff = 100;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await step();
      } catch (err) {
        this.counters.insertRetries += 1;
        this.options.logger.warn(
          { err: (err as Error).message, attempt, retryInMs: backoff, closed: this.closed },
          `ClickHouse refused ${what}; retrying (ingest waits)`,
        );
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, this.options.retryMaxMs);
      }
    }
  }
}
