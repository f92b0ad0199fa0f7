// What one agent did in one window, accumulated event by event (create, add, merge): counts, and
// for latencies and payload sizes the sum of their logarithms (for the geometric mean) and a
// bounded, mergeable histogram (for percentiles and tail counts). Nothing grows with the events.

import type { TaskTimeout } from '../correlate/index.js';
import type { AgentEvent } from '../decode/index.js';
import { asSmallInteger, LogHistogram } from './log-histogram.js';

/** Why a task was picked as an example of its window. */
export type ExampleReason = 'timed-out' | 'failed' | 'retried' | 'slow' | 'seen';

/** A task of a window that an SRE can look up (its timeline: /v1/workflows/{workflowId}/timeline). */
export interface TaskExample {
  taskId: string | null;
  workflowId: string | null;
  reason: ExampleReason;
  latencyMs: number | null;
}

/** Most examples kept per window. */
export const MAX_EXAMPLES = 5;

const REASON_RANK: Record<ExampleReason, number> = { 'timed-out': 4, failed: 3, retried: 2, slow: 1, seen: 0 };

/** Ranks examples: timeouts, then failures, retries, then the slowest; a window keeps its top MAX_EXAMPLES. */
function rank(reason: ExampleReason, latencyMs: number | null): number {
  return REASON_RANK[reason] * 1e12 + (latencyMs ?? 0);
}

const rankOf = (example: TaskExample) => rank(example.reason, example.latencyMs);

/**
 * Samples of one quantity (latency or payload size): the histogram of their values (with their
 * count), and Σ ln(1 + v) and Σ ln(1 + v)². One object, not a histogram beside the sums: an open
 * window holds three of them, and an object costs 40 bytes besides its fields (a closed window is
 * kept packed: SealedWindow).
 */
export class SampleStats extends LogHistogram {
  sumLog = 0;
  sumLogSquares = 0;

  override add(value: number): void {
    if (!(value >= 0)) return;
    const log = Math.log1p(value);
    this.sumLog += log;
    this.sumLogSquares += log * log;
    this.addLog(log);
  }

  override merge(other: SampleStats): void {
    this.sumLog += other.sumLog;
    this.sumLogSquares += other.sumLogSquares;
    super.merge(other);
  }

  /** Appends the samples to `out`: Σ ln(1 + v), Σ ln(1 + v)², then the histogram (LogHistogram.pack). */
  override pack(out: number[]): void {
    out.push(this.sumLog, this.sumLogSquares);
    super.pack(out);
  }

  /** Merges the samples that pack() wrote at `from[at]`; returns where what follows them starts. */
  override mergePacked(from: readonly number[], at: number): number {
    this.sumLog += from[at]!;
    this.sumLogSquares += from[at + 1]!;
    return super.mergePacked(from, at + 2);
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
  /** The window's most notable tasks, best first (at most MAX_EXAMPLES); none until one is offered (most windows kept hold none). */
  private examples: TaskExample[] | undefined;

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
    if (event.taskId !== null || event.workflowId !== null) {
      const reason: ExampleReason = event.timedOut
        ? 'timed-out'
        : failed
          ? 'failed'
          : event.retries > 0
            ? 'retried'
            : event.latencyMs !== null
              ? 'slow'
              : 'seen';
      this.offerExample(event.taskId, event.workflowId, reason, event.latencyMs);
    }
  }

  /** Hands over the window's examples once it is scored (a window kept for pooling does not keep them). */
  takeExamples(): TaskExample[] {
    const taken = this.examples ?? [];
    this.examples = undefined;
    return taken;
  }

  /** Keeps the task if it ranks among the window's top MAX_EXAMPLES (one entry per task). */
  private offerExample(
    taskId: string | null,
    workflowId: string | null,
    reason: ExampleReason,
    latencyMs: number | null,
  ): void {
    const examples = (this.examples ??= []);
    const score = rank(reason, latencyMs);
    // The usual case (this runs for every event): nothing allocated.
    if (examples.length === MAX_EXAMPLES && score <= rankOf(examples[MAX_EXAMPLES - 1]!)) return;
    const same = examples.findIndex((e) => e.taskId === taskId && e.workflowId === workflowId);
    if (same >= 0) {
      if (rankOf(examples[same]!) >= score) return;
      examples.splice(same, 1);
    }
    let at = examples.length;
    while (at > 0 && rankOf(examples[at - 1]!) < score) at -= 1;
    examples.splice(at, 0, { taskId, workflowId, reason, latencyMs });
    if (examples.length > MAX_EXAMPLES) examples.pop();
  }

  /** The window is closed: what it holds, kept for pooling and learning in as little memory as it needs (no examples). */
  seal(): SealedWindow {
    const values = [this.requests, this.retried, this.answers, this.failures, this.timeouts];
    this.latency.pack(values);
    this.requestPayload.pack(values);
    this.resultPayload.pack(values);
    return new SealedWindow(values.slice()); // a copy of its exact length: push() left room
  }

  /** Adds a sealed window's counts and samples, as merge() adds an open one's. */
  mergeSealed(sealed: SealedWindow): void {
    const values = sealed.values;
    this.requests += asSmallInteger(values[0]!);
    this.retried += asSmallInteger(values[1]!);
    this.answers += asSmallInteger(values[2]!);
    this.failures += asSmallInteger(values[3]!);
    this.timeouts += asSmallInteger(values[4]!);
    let at = this.latency.mergePacked(values, 5);
    at = this.requestPayload.mergePacked(values, at);
    this.resultPayload.mergePacked(values, at);
  }

  /** A window holding what `sealed` holds, to read (its examples went with the report). */
  static unseal(sealed: SealedWindow): WindowAccumulator {
    const window = new WindowAccumulator();
    window.mergeSealed(sealed);
    return window;
  }

  /** A latency measured on a request read after its answer, for the window of the worker that answered. */
  addLatency(latencyMs: number): void {
    this.latency.add(latencyMs);
  }

  /** Whether the window holds anything about answers (a worker's window may not). */
  get answered(): boolean {
    return this.answers > 0 || this.latency.count > 0;
  }

  addTimeout(timeout: TaskTimeout): void {
    this.timeouts += 1;
    this.offerExample(timeout.taskId, timeout.workflowId, 'timed-out', null);
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

/**
 * A closed window, as an agent keeps its last few (for pooling, and until they are learned): its
 * counts and samples in one array of doubles, which V8 stores unboxed. An accumulator with its three
 * SampleStats, their sums (each a heap number) and their cell arrays took about 790 bytes where this
 * takes about 220 (the memory bench's windows: 18 doubles), and an agent keeps up to eight.
 */
export class SealedWindow {
  /** WindowAccumulator.seal() writes them, mergeSealed() reads them: the five counts, then the three SampleStats packed. */
  constructor(readonly values: readonly number[]) {}
}
