// What one agent did in one window, accumulated event by event (create, add, merge, features), and
// turned into the feature vector of FEATURES when the window closes. Quantiles use bounded,
// mergeable histograms; nothing here grows with the number of events.

import type { TaskTimeout } from '../correlate/index.js';
import type { AgentEvent } from '../decode/index.js';
import { LogHistogram } from './log-histogram.js';

export class WindowAccumulator {
  requests = 0;
  retried = 0;
  answers = 0;
  failures = 0;
  timeouts = 0;
  payloadBytes = 0;
  payloadCount = 0;
  readonly latency = new LogHistogram();
  readonly payload = new LogHistogram();

  addEvent(event: AgentEvent): void {
    if (event.payloadBytes > 0) {
      this.payloadBytes += event.payloadBytes;
      this.payloadCount += 1;
      this.payload.add(event.payloadBytes);
    }
    if (event.kind === 'request') {
      this.requests += 1;
      if (event.retries > 0) this.retried += 1;
    } else if (event.kind === 'result' || event.kind === 'error' || event.state === 'failed' || event.state === 'rejected') {
      this.answers += 1;
      if (event.kind === 'error' || event.state === 'failed' || event.state === 'rejected') this.failures += 1;
    }
    // A request read after its answer carries the latency (see correlate), so any event may.
    if (event.latencyMs !== null) this.latency.add(event.latencyMs);
  }

  addTimeout(_timeout: TaskTimeout): void {
    this.timeouts += 1;
  }

  merge(other: WindowAccumulator): void {
    this.requests += other.requests;
    this.retried += other.retried;
    this.answers += other.answers;
    this.failures += other.failures;
    this.timeouts += other.timeouts;
    this.payloadBytes += other.payloadBytes;
    this.payloadCount += other.payloadCount;
    this.latency.merge(other.latency);
    this.payload.merge(other.payload);
  }

  /** The full feature vector in FEATURES order; NaN where the window has nothing to say. */
  features(windowMs: number): Float64Array {
    const seconds = windowMs / 1000;
    return Float64Array.of(
      Math.log1p(this.requests / seconds),
      Math.log1p(this.latency.quantile(0.5)),
      Math.log1p(this.latency.quantile(0.95)),
      this.requests > 0 ? this.retried / this.requests : Number.NaN,
      this.requests > 0 || this.timeouts > 0 ? this.timeouts / Math.max(1, this.requests) : Number.NaN,
      this.answers > 0 ? this.failures / this.answers : Number.NaN,
      this.payloadCount > 0 ? Math.log1p(this.payloadBytes / this.payloadCount) : Number.NaN,
      Math.log1p(this.payload.quantile(0.95)),
    );
  }
}
