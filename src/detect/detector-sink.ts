// Detection as a sink of the pipeline: each batch is added to the Detector once, and its alerts are
// handed to `deliver` (publisher, stream, audit); the batch is accepted only when they were
// delivered. When delivery fails and the pipeline offers the same batch again, only its alerts are
// delivered again: the detector never counts a batch twice.

import type { CorrelatedBatch, EventSink } from '../correlate/index.js';
import type { AnomalyAlert, Detector } from './detector.js';

export type AlertDelivery = (alerts: readonly AnomalyAlert[]) => Promise<void>;

export class DetectorSink implements EventSink {
  readonly name = 'detector';
  private readonly undelivered = new WeakMap<CorrelatedBatch, readonly AnomalyAlert[]>();

  constructor(readonly detector: Detector, private readonly deliver: AlertDelivery) {}

  async accept(batch: CorrelatedBatch): Promise<void> {
    let alerts = this.undelivered.get(batch);
    if (alerts === undefined) {
      alerts = this.detector.process(batch.events, batch.timeouts, batch.watermark).alerts;
      this.undelivered.set(batch, alerts);
    }
    await this.deliver(alerts);
    this.undelivered.delete(batch);
  }

  async close(): Promise<void> {}
}
