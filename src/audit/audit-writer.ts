// The audit sink: every event becomes one hash-chained row of audit_events (chain version 2,
// audit-row.ts), built straight into the RowBinary body of the next insert, and inserted in rounds.
// A round is asked for at AUDIT_BATCH_ROWS rows, after AUDIT_FLUSH_MS, or at once when the pipeline
// says nothing more is coming soon (flushNow); inserts never overlap, and a round is taken when its
// insert starts, so the rows that arrive while one insert runs all go into the next (group commit).
// The same round writes the batches' correlation outcomes to task_outcomes. A batch of the pipeline
// is accepted only after ClickHouse confirmed the inserts that hold its rows.
//
// Exactly once in effect: the writer knows the stored tail (offset, hash) of every topic-partition
// (read from ClickHouse the first time it sees it) and does not store records at or below it again.
// A record redelivered after a crash is compared with the row stored at its offset: identical (the
// usual case) means skip; different means the stored row is not this record's (forged or rewritten):
// an integrity alarm (metric, error log, a row in integrity_findings holding the genuine row), and
// the record is kept there, never dropped. This needs inserts that are all-or-nothing: the table is
// partitioned by month of ingestion, so one insert is one part. And it needs the writer never to
// give up on rows it has chained: while ClickHouse refuses, it retries with backoff (ingest waits,
// Kafka keeps the backlog) and never rejects, since a batch offered again would be skipped as
// already stored.
//
// A partition's first row is recorded in chain_genesis and published as a checkpoint, so that a
// deleted head of the chain is a gap rather than a shorter chain.

import type { ClickHouseClient } from '@clickhouse/client';
import type { CorrelatedBatch, EventSink, TaskTimeout } from '../correlate/index.js';
import type { AgentEvent } from '../decode/index.js';
import type { Logger } from '../logger.js';
import { appendEventRow, chainHash, clickhouseTime, INSERT_COLUMNS, writeEventHashedColumns } from './audit-row.js';
import { insertRowBinary } from './clickhouse-client.js';
import type { Redactor } from './redaction.js';
import { RowBinaryWriter } from './row-binary.js';

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
  outcomesWritten: number;
  /** Records whose offset holds a different stored row (integrity_findings). */
  integrityAlarms: number;
  /** Redelivered records older than their partition's first stored row (never audited). */
  recordsBeforeChain: number;
  flushes: number;
  insertRetries: number;
  buffered: number;
}

/** A row's coordinates and hash, for checkpoints. */
export interface StoredRowRef {
  topic: string;
  partition: number;
  offset: string;
  hash: string;
}

interface IntegrityFinding {
  topic: string;
  partition: number;
  offset: string;
  kind: 'conflict' | 'missing';
  detail: string;
  storedHash: string;
  recordHash: string;
  recordRow: Buffer;
}

const FINDING_COLUMNS = [
  'found_at',
  'topic',
  'partition',
  'offset',
  'kind',
  'detail',
  'stored_hash',
  'record_hash',
  'record_row',
] as const;

export const OUTCOME_COLUMNS = [
  'topic',
  'partition',
  'offset',
  'ts',
  'workflow_id',
  'task_id',
  'producer',
  'capability',
  'kind',
  'attempt',
  'retries',
  'latency_ms',
  'timed_out',
  'answered_by',
  'version',
  'written_at',
] as const;

/** A round is inserted once its body reaches this size, whatever its row count (large values). */
const MAX_ROUND_BYTES = 64 * 1024 * 1024;

/** Bytes at the end of each audit row that hold ingested_at (DateTime64(3) as Int64). */
const INGESTED_AT_BYTES = 8;

/** The rows one accept chained for one partition (what a confirmed insert moves the tail to). */
interface ChainedRun {
  topic: string;
  partition: number;
  rows: number;
  last: StoredRowRef;
  genesis: StoredRowRef | null;
}

/** Where one accept of a partition stands: its rows chained into a round, and that round inserted. */
interface PartitionTurn {
  buffered: Promise<void>;
  confirmed: Promise<void>;
}

/** One insert round: audit rows and outcome rows, and who waits for them. */
class PendingInsert {
  readonly rows = new RowBinaryWriter();
  /** End of each audit row in `rows` (ingested_at is the last 8 bytes before it). */
  readonly rowEnds: number[] = [];
  readonly outcomes = new RowBinaryWriter(1 << 16);
  outcomeCount = 0;
  readonly runs: ChainedRun[] = [];
  readonly waiting: Array<() => void> = [];

  get size(): number {
    return this.rowEnds.length + this.outcomeCount;
  }
}

export class AuditWriter implements EventSink {
  readonly name = 'audit';
  private readonly tails = new Map<string, ChainTail>();
  /** Per topic-partition: where its latest accept stands (accepts of a partition take turns). */
  private readonly partitionTurns = new Map<string, PartitionTurn>();
  /** Last row per topic-partition that ClickHouse confirmed, not yet checkpointed. */
  private readonly confirmed = new Map<string, StoredRowRef>();
  /** First rows of partitions (genesis), confirmed and not yet checkpointed. */
  private confirmedGenesis: StoredRowRef[] = [];
  private pending = new PendingInsert();
  private timer: NodeJS.Timeout | undefined;
  /** The insert running now, if any; `nextInsert` is the one asked for after it. */
  private inserting: Promise<void> | undefined;
  private nextInsert: Promise<void> | undefined;
  private closed = false;
  /** accept calls that have not yet handed their rows to the buffer. */
  private accepting = 0;
  private flushWanted = false;
  private outcomeVersion = 0;
  private readonly counters = {
    rowsWritten: 0,
    duplicatesSkipped: 0,
    outcomesWritten: 0,
    integrityAlarms: 0,
    recordsBeforeChain: 0,
    flushes: 0,
    insertRetries: 0,
  };

  constructor(
    private readonly client: ClickHouseClient,
    private readonly options: AuditWriterOptions,
  ) {}

  async accept(batch: CorrelatedBatch): Promise<void> {
    if (batch.events.length === 0 && batch.timeouts.length === 0) return; // a tick with nothing to store
    // Outcomes are encoded now, before any wait: accepts are called in correlation order, so their
    // versions follow it (a timeout's row outranks the earlier row of its request).
    const outcomes = this.encodeOutcomes(batch.events, batch.timeouts);
    if (batch.events.length === 0) {
      this.accepting += 1; // counted at once: group commit waits for these rows (see flushNow)
      await this.buffer(batch, [], null, outcomes);
      return;
    }
    // One accept of a partition at a time, each chaining onto the rows of the one before. An accept
    // that starts at or below the chained tail (a redelivery: a batch abandoned by another sink and
    // read again while this writer still holds it) or that must read the tail from the store (after
    // a rebalance) first waits until the rows before it are confirmed, so that it is compared with
    // stored rows and never chained twice, out of order, or onto a stale tail. Kafka hands a
    // partition's batches over one by one, so the usual accept waits for nothing.
    const key = `${batch.topic}:${batch.partition}`;
    const previous = this.partitionTurns.get(key);
    let buffered!: () => void;
    let confirmed!: () => void;
    const turn: PartitionTurn = {
      buffered: new Promise<void>((resolve) => (buffered = resolve)),
      confirmed: new Promise<void>((resolve) => (confirmed = resolve)),
    };
    this.partitionTurns.set(key, turn);
    // Counted as accepting at once, so that a group commit asked for right after this call waits for
    // its rows; but not while it waits for rows before it to be confirmed, which takes an insert.
    this.accepting += 1;
    let counted = true;
    try {
      if (previous !== undefined) {
        await previous.buffered;
        const known = this.tails.get(key);
        if (known === undefined || BigInt(batch.events[0]!.offset) <= known.offset) {
          this.doneAccepting();
          counted = false;
          await previous.confirmed;
          this.accepting += 1;
          counted = true;
        }
      }
      const tail = await this.tail(batch.topic, batch.partition);
      const fresh = await this.withoutStored(batch.topic, batch.partition, batch.events, tail);
      counted = false; // buffer() takes the count over
      const inserted = this.buffer(batch, fresh, tail, outcomes);
      buffered();
      await inserted;
    } finally {
      if (counted) this.doneAccepting();
      buffered();
      confirmed();
      if (this.partitionTurns.get(key) === turn) this.partitionTurns.delete(key);
    }
  }

  /** One accept handed its rows over (or gave up): a group commit asked for meanwhile happens now. */
  private doneAccepting(): void {
    this.accepting -= 1;
    if (this.flushWanted && this.accepting === 0) {
      this.flushWanted = false;
      void this.flush();
    }
  }

  /**
   * Chains `fresh` onto `tail` straight into the pending round's RowBinary body, adds the outcomes,
   * and returns the wait for the insert. A failure while building leaves the round and the tail as
   * they were.
   */
  private buffer(
    batch: CorrelatedBatch,
    fresh: readonly AgentEvent[],
    tail: ChainTail | null,
    outcomes: { bytes(): Buffer; count: number } | null,
  ): Promise<void> {
    // The caller counted this accept in `accepting`; it ends here, once the rows are in the round.
    let queued: Promise<void> | undefined;
    try {
      const into = this.pending;
      if (fresh.length > 0 && tail !== null) {
        const saved = { rows: into.rows.length, rowEnds: into.rowEnds.length, offset: tail.offset, hash: tail.hash };
        try {
          const startsChain = tail.offset < 0n;
          let firstHash = '';
          for (const event of fresh) {
            const prevOffset = tail.offset < 0n ? '-1' : tail.offset.toString();
            tail.hash = appendEventRow(into.rows, event, prevOffset, tail.hash, this.options.redact);
            tail.offset = BigInt(event.offset);
            into.rowEnds.push(into.rows.length);
            if (firstHash === '') firstHash = tail.hash;
          }
          const { topic, partition } = batch;
          into.runs.push({
            topic,
            partition,
            rows: fresh.length,
            last: { topic, partition, offset: tail.offset.toString(), hash: tail.hash },
            genesis: startsChain ? { topic, partition, offset: fresh[0]!.offset, hash: firstHash } : null,
          });
        } catch (err) {
          // A row half written would misalign the whole insert body: take this batch's rows back out.
          into.rows.length = saved.rows;
          into.rowEnds.length = saved.rowEnds;
          tail.offset = saved.offset;
          tail.hash = saved.hash;
          throw err;
        }
      }
      if (outcomes !== null) {
        into.outcomes.append(outcomes.bytes());
        into.outcomeCount += outcomes.count;
      }
      if (fresh.length > 0 || outcomes !== null) queued = this.enqueue(into);
    } finally {
      this.doneAccepting();
    }
    return queued ?? Promise.resolve();
  }

  /** Group commit: no more rows come until these are written, so write them now (once the accepts under way have buffered theirs). */
  flushNow(): void {
    if (this.accepting > 0) this.flushWanted = true;
    else if (this.pending.size > 0) void this.flush();
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

  /**
   * Forgets the cached chain tails (a rebalance: another member may have written a partition since).
   * Each partition's next accept reads its tail from the store again, after its previous accept was
   * confirmed (accepts of a partition take turns), so nothing buffered is chained over.
   */
  forgetTails(): void {
    this.tails.clear();
  }

  /** The confirmed chain tails that moved since the last call, and confirmed chain heads (for checkpoints). */
  takeCheckpoints(): StoredRowRef[] {
    const moved = [...this.confirmedGenesis, ...this.confirmed.values()];
    this.confirmed.clear();
    this.confirmedGenesis = [];
    return moved;
  }

  /**
   * The events of a batch that are not stored yet: those above the tail. Those at or below it were
   * stored before (a redelivery after a crash or rebalance) and are compared with what is stored.
   */
  private async withoutStored(
    topic: string,
    partition: number,
    events: readonly AgentEvent[],
    tail: ChainTail,
  ): Promise<readonly AgentEvent[]> {
    if (tail.offset < 0n || BigInt(events[0]!.offset) > tail.offset) return events; // the usual case
    const stored = events.filter((event) => BigInt(event.offset) <= tail.offset);
    this.counters.duplicatesSkipped += stored.length;
    await this.compareWithStored(topic, partition, stored);
    return events.slice(stored.length);
  }

  /**
   * Checks each redelivered record against the row stored at its offset: the row it gives, chained on
   * the stored row's own predecessor, must have the stored hash. A version-1 row hashed correlation
   * outcomes, which a redelivery need not reproduce, so it is not compared.
   */
  private async compareWithStored(topic: string, partition: number, events: readonly AgentEvent[]): Promise<void> {
    const rows = await this.retrying(`reading stored rows of ${topic}:${partition}`, async () =>
      (
        await this.client.query({
          query: `SELECT toString(offset) AS offset, toString(prev_offset) AS prev_offset, prev_hash, hash, chain_version
                  FROM audit_events
                  WHERE topic = {topic:String} AND partition = {partition:UInt32} AND offset >= {from:UInt64} AND offset <= {to:UInt64}
                  SETTINGS prefer_column_name_to_alias = 1`,
          query_params: { topic, partition, from: events[0]!.offset, to: events.at(-1)!.offset },
          format: 'JSONEachRow',
        })
      ).json<{ offset: string; prev_offset: string; prev_hash: string; hash: string; chain_version: number }>(),
    );
    const byOffset = new Map(rows.map((row) => [row.offset, row]));
    // A record below the chain's first stored row was never stored (the tap began later, and the
    // group's offsets were reset to an earlier position since): not a hole in the chain, which
    // cannot take it in the middle either. Counted and logged, not an alarm.
    const chainStart = events.some((event) => !byOffset.has(event.offset))
      ? await this.firstStoredOffset(topic, partition)
      : null;
    const findings: IntegrityFinding[] = [];
    const scratch = new RowBinaryWriter(1 << 12);
    let beforeChain = 0;
    for (const event of events) {
      const row = byOffset.get(event.offset);
      if (row === undefined && chainStart !== null && BigInt(event.offset) < chainStart) {
        beforeChain += 1;
        continue;
      }
      if (row !== undefined && Number(row.chain_version) < 2) continue;
      scratch.reset();
      writeEventHashedColumns(scratch, event, row?.prev_offset ?? '-1', this.options.redact);
      const recordHash = chainHash(row?.prev_hash ?? '', scratch.bytes());
      if (row !== undefined && recordHash === row.hash) continue;
      findings.push({
        topic,
        partition,
        offset: event.offset,
        kind: row === undefined ? 'missing' : 'conflict',
        detail:
          row === undefined
            ? `record ${topic}:${partition}@${event.offset} is at or below the stored tail but no row holds it`
            : `the row stored at ${topic}:${partition}@${event.offset} is not this record's: it was forged or rewritten`,
        storedHash: row?.hash ?? '',
        recordHash,
        recordRow: Buffer.from(scratch.bytes()),
      });
    }
    if (beforeChain > 0) {
      this.counters.recordsBeforeChain += beforeChain;
      this.options.logger.warn(
        { topic, partition, records: beforeChain, chainStartsAt: chainStart?.toString() },
        'records older than the first stored row of their partition were read again (offsets reset?); they were never audited and are not now',
      );
    }
    if (findings.length === 0) return;
    this.counters.integrityAlarms += findings.length;
    for (const finding of findings)
      this.options.logger.error(
        { topic, partition, offset: finding.offset, kind: finding.kind, storedHash: finding.storedHash },
        `INTEGRITY ALARM: ${finding.detail}; the genuine row is kept in integrity_findings`,
      );
    const body = new RowBinaryWriter(1 << 12);
    const foundAt = Date.now();
    for (const f of findings) {
      body.int64(foundAt);
      body.string(f.topic);
      body.uint32(f.partition);
      body.uint64(f.offset);
      body.string(f.kind);
      body.string(f.detail);
      body.string(f.storedHash);
      body.string(f.recordHash);
      body.stringBytes(f.recordRow);
    }
    await this.retrying(`recording ${findings.length} integrity findings`, () =>
      insertRowBinary(this.client, 'integrity_findings', FINDING_COLUMNS, Buffer.from(body.bytes())),
    );
  }

  /** The first stored offset of a topic-partition (null when nothing is stored). */
  private async firstStoredOffset(topic: string, partition: number): Promise<bigint | null> {
    const [row] = await this.retrying(`reading the chain start of ${topic}:${partition}`, async () =>
      (
        await this.client.query({
          query: `SELECT count() AS n, toString(min(offset)) AS first FROM audit_events
                  WHERE topic = {topic:String} AND partition = {partition:UInt32}`,
          query_params: { topic, partition },
          format: 'JSONEachRow',
        })
      ).json<{ n: string | number; first: string }>(),
    );
    return row === undefined || Number(row.n) === 0 ? null : BigInt(row.first);
  }

  /** The task_outcomes rows of `events` and `timeouts` (null when there are none). */
  private encodeOutcomes(
    events: readonly AgentEvent[],
    timeouts: readonly TaskTimeout[],
  ): { bytes(): Buffer; count: number } | null {
    let out: RowBinaryWriter | undefined;
    let count = 0;
    const now = Date.now();
    for (const event of events) {
      if (event.latencyMs === null && event.retries === 0 && !event.timedOut) continue;
      out ??= new RowBinaryWriter(1 << 12);
      this.writeOutcome(out, now, event, event.workflowId, event.taskId, event.kind, event.timestamp, {
        retries: event.retries,
        latencyMs: event.latencyMs ?? -1,
        timedOut: event.timedOut,
        answeredBy: event.answeredBy ?? '',
      });
      count += 1;
    }
    for (const timeout of timeouts) {
      // The request that got no answer within its TTL.
      out ??= new RowBinaryWriter(1 << 12);
      this.writeOutcome(out, now, timeout, timeout.workflowId, timeout.taskId, 'request', timeout.requestedAt, {
        retries: timeout.attempts - 1,
        latencyMs: -1,
        timedOut: true,
        answeredBy: '',
      });
      count += 1;
    }
    return out === undefined ? null : { bytes: () => out.bytes(), count };
  }

  private writeOutcome(
    out: RowBinaryWriter,
    now: number,
    at: { topic: string; partition: number; offset: string; producer: string; capability: string },
    workflowId: string | null,
    taskId: string | null,
    kind: string,
    ts: number,
    outcome: { retries: number; latencyMs: number; timedOut: boolean; answeredBy: string },
  ): void {
    // Versions increase in write order, across restarts too (they start from the wall clock in µs).
    this.outcomeVersion = Math.max(this.outcomeVersion + 1, now * 1000);
    out.string(at.topic);
    out.uint32(at.partition);
    out.uint64(at.offset);
    out.int64(ts);
    out.string(workflowId ?? '');
    out.string(taskId ?? '');
    out.string(at.producer);
    out.string(at.capability);
    out.string(kind);
    out.uint16(Math.min(0xffff, outcome.retries + 1));
    out.uint16(Math.min(0xffff, outcome.retries));
    out.int64(outcome.latencyMs);
    out.uint8(outcome.timedOut ? 1 : 0);
    out.string(outcome.answeredBy);
    out.int64(this.outcomeVersion);
    out.int64(now);
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
      examples: unknown[];
      /** The silence that matched at publication. */
      silencedBy?: string | null;
      detail?: string;
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
      examples: JSON.stringify(a.examples),
      silenced_by: a.silencedBy ?? '',
      detail: a.detail ?? '',
      published_at: clickhouseTime(Date.now()),
    }));
    await this.retrying(`inserting ${alerts.length} anomalies`, () =>
      this.client.insert({ table: 'anomalies', values, format: 'JSONEachRow' }),
    );
  }

  stats(): AuditWriterStats {
    return { ...this.counters, buffered: this.pending.size };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private enqueue(into: PendingInsert): Promise<void> {
    const done = new Promise<void>((resolve) => into.waiting.push(resolve));
    if (into.size >= this.options.batchRows || into.rows.length >= MAX_ROUND_BYTES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
    return done;
  }

  /**
   * Asks for an insert of what is buffered: at once when none runs, else right after the one that
   * runs, with every row buffered by then (inserts never overlap).
   */
  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inserting === undefined) return this.startInsert();
    const next = (): Promise<void> => {
      this.nextInsert = undefined;
      // An insert may have started between the previous one's end and this callback: go after it.
      return this.inserting === undefined ? this.startInsert() : this.flush();
    };
    this.nextInsert ??= this.inserting.then(next, next);
    return this.nextInsert;
  }

  private startInsert(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return Promise.resolve();
    const round = this.pending;
    this.pending = new PendingInsert();
    const running = this.insert(round).finally(() => {
      if (this.inserting === running) this.inserting = undefined;
    });
    this.inserting = running;
    return running;
  }

  /** Writes one round: chain heads first, then the audit rows, then the outcomes. */
  private async insert(round: PendingInsert): Promise<void> {
    const started = performance.now();
    const genesis = round.runs.flatMap((run) => (run.genesis === null ? [] : [run.genesis]));
    if (genesis.length > 0) {
      const createdAt = clickhouseTime(Date.now());
      await this.retrying(`recording ${genesis.length} chain heads`, () =>
        this.client.insert({
          table: 'chain_genesis',
          format: 'JSONEachRow',
          values: genesis.map((g) => ({
            topic: g.topic,
            partition: g.partition,
            first_offset: g.offset,
            hash: g.hash,
            created_at: createdAt,
          })),
        }),
      );
    }
    if (round.rowEnds.length > 0) {
      const ingestedAt = Date.now();
      const rows = round.rows;
      // ingested_at is the last column of every row: fill the placeholders in place.
      const end = rows.length;
      rows.length = 0;
      for (const rowEnd of round.rowEnds) {
        rows.length = rowEnd - INGESTED_AT_BYTES;
        rows.int64(ingestedAt);
      }
      rows.length = end;
      const body = rows.bytes();
      await this.retrying(`inserting ${round.rowEnds.length} audit rows`, () =>
        insertRowBinary(this.client, 'audit_events', INSERT_COLUMNS, body),
      );
      this.counters.rowsWritten += round.rowEnds.length;
    }
    if (round.outcomeCount > 0) {
      const body = round.outcomes.bytes();
      await this.retrying(`inserting ${round.outcomeCount} task outcomes`, () =>
        insertRowBinary(this.client, 'task_outcomes', OUTCOME_COLUMNS, body),
      );
      this.counters.outcomesWritten += round.outcomeCount;
    }
    this.counters.flushes += 1;
    const byTopic = new Map<string, number>();
    for (const run of round.runs) {
      byTopic.set(run.topic, (byTopic.get(run.topic) ?? 0) + run.rows);
      // Runs of one topic-partition are buffered in offset order, so the last is its new tail.
      const key = `${run.topic}:${run.partition}`;
      const last = this.confirmed.get(key);
      if (last === undefined || BigInt(run.last.offset) > BigInt(last.offset)) this.confirmed.set(key, run.last);
    }
    this.confirmedGenesis.push(...genesis);
    if (byTopic.size > 0) this.options.onInsert?.(byTopic, (performance.now() - started) / 1000);
    for (const resolve of round.waiting) resolve();
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
