// What one agent did in one window, accumulated event by event (create, add, merge): counts, and
// for latencies and payload sizes the sum of their logarithms (for the geometric mean) and a
// bounded, mergeable histogram (for percentiles and tail counts). Nothing grows with the events.

import type { TaskTimeout } from '../correlate/index.js';
import type { AgentEvent } from '../decode/index.js';
import { LogHistogram } from './log-histogram.js';

/** Samples of one quantity (latency or payload size): count, Σ ln(1 + v), Σ ln(1 + v)², histogram. */
export class SampleStats {
  count = 0;
  sumLog = 0;
  sumLogSquares = 0;
  readonly histogram = new LogHistogram();

  add(value: number): void {
    if (!(value >= 0)) return;
    const log = Math.log1p(value);
    this.count += 1;
    this.sumLog += log;
    this.sumLogSquares += log * log;
    this.histogram.add(value);
  }

  merge(other: SampleStats): void {
    this.count += other.count;
    this.sumLog += other.sumLog;
    this.sumLogSquares += other.sumLogSquares;
    this.histogram.merge(other.histogram);
  }

  /** Mean of ln(1 + v), NaN when empty. */
  meanLog(): number {
    return this.count > 0 ? this.sumLog / this.count : Number.NaN;
  }
}

export class WindowAccumulator {
  requests = 0;
  retried = 0;
  answers = 0;
  failures = 0;
  timeouts = 0;
  readonly latency = new SampleStats();
  /** Payload sizes of requests and of results, apart: their sizes differ, and their mix changes when answers lag. */
  readonly requestPayload = new SampleStats();
  readonly resultPayload = new SampleStats();

  addEvent(event: AgentEvent): void {
    const failed = event.kind === 'error' || event.state === 'failed' || event.state === 'rejected';
    // Payloads of tasks and their results; an error's body says how it failed, not what was carried.
    if (event.payloadBytes > 0 && !failed)
      (event.kind === 'request' ? this.requestPayload : this.resultPayload).add(event.payloadBytes);
    if (event.kind === 'request') {
      this.requests += 1;
      if (event.retries > 0) this.retried += 1;
    } else if (event.kind === 'result' || failed) {
      this.answers += 1;
      if (failed) this.failures += 1;
    }
    // A request read after its answer carries the latency (see correlate), so any event may.
    if (event.latencyMs !== null) this.latency.add(event.latencyMs);
  }

  /** A latency measured on a request read after its answer, for the window of the worker that answered. */
  addLatency(latencyMs: number): void {
    this.latency.add(latencyMs);
  }

  /** Whether the window holds anything about answers (a worker's window may not). */
  get answered(): boolean {
    return this.answers > 0 || this.latency.count > 0;
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
    this.latency.merge(other.latency);
    this.requestPayload.merge(other.requestPayload);
    this.resultPayload.merge(other.resultPayload);
  }
}
