// Ingest worker threads (INGEST_WORKERS): the main thread packs a batch's records into a few
// transferable buffers; a worker decodes them and writes each one's audit row tail
// (src/ingest-worker.ts); the main thread builds the events from the worker's packed facts and its
// own records (src/decode/packed-batch.ts). Decoding and the row tail are pure functions of the
// record, so the events and rows are the ones the main thread would make, whichever worker took a
// batch. Composition of decode and audit, hence beside pipeline.ts and not in either stage.
//
// Confluent-framed values (Avro, JSON Schema) are decoded on the main thread, where the schema
// registry's answers are cached. A worker that fails takes none of its batches with it: they are
// decoded on the main thread at once, and a new worker is started for the next batch.

import { Worker } from 'node:worker_threads';
import { auditRowValues, RowBinaryWriter, writeRowTail, type Redactor } from './audit/index.js';
import {
  confluentSchemaId,
  eventsFromFacts,
  packFacts,
  packRecords,
  unpackRecords,
  type PackedRecords,
  type AgentEvent,
  type BatchDecoder,
  type KafkaRecord,
  type PackedFacts,
  type RecordDecoder,
} from './decode/index.js';
import { AgentwatchError, messageOf } from './errors.js';
import type { IngestReply, IngestRequest, IngestWorkerSettings } from './ingest-worker.js';
import type { Logger } from './logger.js';

/**
 * A worker's work on one packed batch: decode each record, write its audit row tail, pack both.
 * Runs on the worker (src/ingest-worker.ts); here so that a test can run it on the main thread.
 */
export function ingestBatch(packed: PackedRecords, tools: { decoder: RecordDecoder; redact: Redactor }): PackedFacts {
  const records = unpackRecords(packed);
  const events = records.map((record) => tools.decoder.decodeRecord(record));
  const tails = new RowBinaryWriter(Math.max(1024, packed.bytes.byteLength * 2));
  const ends = new Int32Array(events.length);
  for (let i = 0; i < events.length; i += 1) {
    writeRowTail(tails, auditRowValues(events[i]!, '-1', tools.redact));
    ends[i] = tails.length;
  }
  const bytes = new Uint8Array(tails.length);
  bytes.set(tails.bytes());
  return packFacts(events, { bytes: bytes.buffer, ends: ends.buffer });
}

export interface IngestWorkersOptions extends IngestWorkerSettings {
  workers: number;
}

export interface IngestWorkersStats {
  /** Batches (or parts of batches) decoded on a worker. */
  batches: number;
  /** Records decoded on the main thread instead: Confluent-framed, or their worker failed. */
  recordsOnMainThread: number;
  /** Workers that failed (and were replaced), and batches a worker could not decode. */
  failures: number;
  /** Whether the workers failed FAILURES_BEFORE_GIVING_UP times in a row, so that everything is decoded on the main thread. */
  gaveUp: boolean;
}

/** Failures in a row (no batch decoded on a worker between them) after which the workers are given up. */
export const FAILURES_BEFORE_GIVING_UP = 5;

interface IngestThread {
  worker: Worker;
  /** Requests sent and not answered, by id. */
  pending: Map<number, { resolve: (facts: PackedFacts) => void; reject: (err: Error) => void }>;
}

export class IngestWorkers implements BatchDecoder {
  private readonly threads: Array<IngestThread | undefined>;
  private nextId = 1;
  private closed = false;
  private readonly counters: IngestWorkersStats = { batches: 0, recordsOnMainThread: 0, failures: 0, gaveUp: false };
  /** Failures since a worker last decoded a batch. */
  private failuresInARow = 0;

  constructor(
    /** Decodes what stays on the main thread. */
    private readonly local: RecordDecoder,
    private readonly options: IngestWorkersOptions,
    private readonly logger: Logger,
  ) {
    if (!(options.workers >= 1))
      throw new RangeError(`IngestWorkers needs at least one worker, got ${options.workers}`);
    this.threads = new Array<IngestThread | undefined>(options.workers).fill(undefined);
  }

  stats(): IngestWorkersStats {
    return { ...this.counters };
  }

  async decode(records: readonly KafkaRecord[]): Promise<AgentEvent[]> {
    if (records.length === 0) return [];
    const topic = records[0]!.topic;
    let framed: Set<number> | undefined;
    for (let i = 0; i < records.length; i += 1) {
      const record = records[i]!;
      if (record.topic !== topic) return this.onMainThread(records); // the tap's batches never mix topics
      if (confluentSchemaId(record.value, this.options.maxPayloadBytes) !== null) (framed ??= new Set()).add(i);
    }
    if (framed === undefined) return this.onWorker(topic, records);
    if (framed.size === records.length) return this.onMainThread(records);
    const local = records.filter((_, i) => framed.has(i));
    const remote = records.filter((_, i) => !framed.has(i));
    const [localEvents, remoteEvents] = await Promise.all([this.onMainThread(local), this.onWorker(topic, remote)]);
    let l = 0;
    let r = 0;
    return records.map((_, i) => (framed.has(i) ? localEvents[l++]! : remoteEvents[r++]!));
  }

  /** Stops the workers; a batch still on one is decoded on the main thread. */
  async close(): Promise<void> {
    this.closed = true;
    const threads = this.threads.splice(0, this.threads.length);
    await Promise.all(threads.flatMap((thread) => (thread === undefined ? [] : [thread.worker.terminate()])));
  }

  private onMainThread(records: readonly KafkaRecord[]): Promise<AgentEvent[]> {
    this.counters.recordsOnMainThread += records.length;
    return this.local.decode(records);
  }

  private async onWorker(topic: string, records: readonly KafkaRecord[]): Promise<AgentEvent[]> {
    const thread = this.closed || this.counters.gaveUp ? undefined : this.leastBusy();
    if (thread === undefined) return this.onMainThread(records);
    const packed = packRecords(topic, records);
    const id = this.nextId;
    this.nextId += 1;
    try {
      const facts = await new Promise<PackedFacts>((resolve, reject) => {
        thread.pending.set(id, { resolve, reject });
        const request: IngestRequest = { id, records: packed };
        thread.worker.postMessage(request, [packed.bytes, packed.layout, packed.pairs, packed.timestamps]);
      });
      this.counters.batches += 1;
      this.failuresInARow = 0;
      return eventsFromFacts(records, facts);
    } catch (err) {
      // The worker failed, or could not decode this batch: the batch does not wait for another one.
      this.logger.debug({ err }, 'decoding a batch on the main thread after its worker failed');
      return this.onMainThread(records);
    }
  }

  /** Counts a failure; after FAILURES_BEFORE_GIVING_UP in a row, everything is decoded on the main thread. */
  private countFailure(error: AgentwatchError): void {
    this.counters.failures += 1;
    this.failuresInARow += 1;
    if (this.failuresInARow < FAILURES_BEFORE_GIVING_UP || this.counters.gaveUp) {
      this.logger.warn({ err: error }, 'an ingest worker failed; its batches are decoded on the main thread');
      return;
    }
    this.counters.gaveUp = true;
    this.logger.error(
      { err: error, failures: this.failuresInARow },
      'the ingest workers failed every time in a row; everything is decoded on the main thread from now on (check the errors above, and set INGEST_WORKERS=0)',
    );
    void this.close(); // the main thread decodes from now on
  }

  /** The thread with the fewest batches in hand, started if its slot is empty. */
  private leastBusy(): IngestThread {
    let best = 0;
    for (let i = 0; i < this.threads.length; i += 1) {
      const thread = this.threads[i];
      if (thread === undefined) return this.start(i);
      if (thread.pending.size < this.threads[best]!.pending.size) best = i;
    }
    return this.threads[best]!;
  }

  private start(slot: number): IngestThread {
    const { workers: _workers, ...settings }: IngestWorkersOptions = this.options;
    const worker = new Worker(new URL('./ingest-worker.js', import.meta.url), { workerData: settings });
    worker.unref(); // an idle worker does not keep the process alive
    const thread: IngestThread = { worker, pending: new Map() };
    this.threads[slot] = thread;
    let ended = false;
    const fail = (reason: string, cause?: unknown) => {
      if (this.threads[slot] === thread) this.threads[slot] = undefined;
      if (ended) return; // 'exit' follows 'error'
      ended = true;
      const error = new AgentwatchError(
        'AW_INGEST_WORKER_FAILED',
        `an ingest worker ${reason}; its ${thread.pending.size} batches are decoded on the main thread${cause === undefined ? '' : `: ${messageOf(cause)}`}`,
        { cause, retryable: true },
      );
      if (!this.closed) this.countFailure(error); // stopped by close(): not a failure
      for (const { reject } of thread.pending.values()) reject(error);
      thread.pending.clear();
    };
    worker.on('message', (reply: IngestReply) => {
      const waiting = thread.pending.get(reply.id);
      thread.pending.delete(reply.id);
      if (waiting === undefined) return;
      if ('facts' in reply) {
        waiting.resolve(reply.facts);
        return;
      }
      // The worker threw on this batch alone: the main thread decodes it (and meets the same error
      // as it would have without workers).
      const error = new AgentwatchError(
        'AW_INGEST_WORKER_FAILED',
        `an ingest worker could not decode a batch: ${reply.error}`,
        {
          retryable: true,
        },
      );
      this.countFailure(error);
      waiting.reject(error);
    });
    // A reply this thread cannot deserialise: which batch it answered is unknown, so the worker goes.
    worker.on('messageerror', (err) => {
      fail('sent a reply that could not be read', err);
      void worker.terminate();
    });
    worker.on('error', (err) => fail('failed', err));
    worker.on('exit', (code) => fail(`exited (code ${code})`));
    return thread;
  }
}
