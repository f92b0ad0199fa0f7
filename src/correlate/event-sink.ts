// The one interface through which downstream stages (audit, detection, files) receive events.

import type { AgentEvent } from '../decode/index.js';
import type { TaskTimeout } from './correlator.js';

/** What one source batch (one topic-partition's records) turned into after correlation. */
export interface CorrelatedBatch {
  topic: string;
  partition: number;
  /** One event per record, in offset order. */
  events: readonly AgentEvent[];
  /** Tasks whose TTL ran out while this batch was processed (from any partition). */
  timeouts: readonly TaskTimeout[];
  /** Event time now (EventClock): every partition has been read up to about this timestamp. */
  watermark: number;
}

/**
 * A consumer of correlated batches. `accept` resolves once the sink has durably taken the batch:
 * ingest commits the batch's offsets only after every sink resolved. A sink that cannot keep up
 * simply resolves later (the tap waits, so Kafka holds the backlog); one that rejects with a
 * retryable error gets the same batch again after a backoff.
 */
export interface EventSink {
  readonly name: string;
  accept(batch: CorrelatedBatch): Promise<void>;
  /**
   * Every batch in progress now waits on the sinks, so no more rows come until something is written:
   * a buffering sink writes what it holds now instead of waiting out its flush interval (group commit).
   */
  flushNow?(): void;
  close(): Promise<void>;
}
