// Detection as a sink of the pipeline: each batch is added to the Detector once, and its alerts are
// handed to `deliver` (publisher, stream, audit); the batch is accepted only when they were
// delivered. When delivery fails and the pipeline offers the same batch again, only its alerts are
// delivered again: the detector never counts a batch twice.

import type { CorrelatedBatch, EventSink } from '../correlate/index.js';
import type { AnomalyAlert, Detector, WindowReport } from './detector.js';

export type AlertDelivery = (alerts: readonly AnomalyAlert[]) => Promise<void>;
/** Sees every window as it closes and is scored (for example, to log it at debug level). */
export type WindowObserver = (windows: readonly WindowReport[]) => void;

export class DetectorSink implements EventSink {
  readonly name = 'detector';
  private readonly undelivered = new WeakMap<CorrelatedBatch, readonly AnomalyAlert[]>();
  /** Batches detected whose alerts are not delivered yet (being delivered, or to be offered again). */
  private pending = 0;
  /** What the detector's closedThrough() was the last time no batch was pending. */
  private deliveredThrough = Number.NEGATIVE_INFINITY;

  constructor(
    readonly detector: Detector,
    private readonly deliver: AlertDelivery,
    private readonly observe?: WindowObserver,
  ) {}

  async accept(batch: CorrelatedBatch): Promise<void> {
    let alerts = this.undelivered.get(batch);
    if (alerts === undefined) {
      const closed = this.detector.process(batch.events, batch.timeouts, batch.watermark);
      alerts = closed.alerts;
      if (closed.windows.length > 0) this.observe?.(closed.windows);
      this.undelivered.set(batch, alerts);
      this.pending += 1;
    }
    await this.deliver(alerts);
    this.undelivered.delete(batch);
    this.pending -= 1;
    if (this.pending === 0) this.deliveredThrough = this.detector.closedThrough();
  }

  /**
   * Every window starting at or before this event time (ms since the epoch) has closed and its
   * alerts were delivered; -Infinity before the first.
   */
  detectedThrough(): number {
    return this.pending === 0 ? this.detector.closedThrough() : this.deliveredThrough;
  }

  async close(): Promise<void> {}
}
