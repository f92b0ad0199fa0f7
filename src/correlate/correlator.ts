// Matches each task request with its answer (a result, an error, or a terminal status) to fill
// latencyMs, counts retries, and reports tasks left unanswered past their TTL of event time.
//
// Keys: a request is filed under its task id, else its JSON-RPC id, else workflow + capability +
// step; an answer looks up each of its own keys in that order. Both tables are insertion-ordered
// (OrderedTable) with a cap: the in-flight table evicts its oldest entry when full (counted, never silent), and the
// table of recently finished tasks, which recognises retries after an answer and duplicate answers,
// drops its oldest.
//
// Pure: event time comes in as an argument; nothing here reads a clock.

import { TASK_OPENING_METHODS, TERMINAL_STATES, type AgentEvent } from '../decode/index.js';
import { OrderedTable } from './ordered-table.js';

export interface CorrelatorOptions {
  /** An unanswered task times out this long (event time) after its latest request. */
  taskTtlMs: number;
  /** Most tasks in flight; beyond it the oldest is evicted. */
  maxInFlight: number;
  /** Most finished tasks remembered for retry and duplicate detection. */
  maxRecent: number;
}

/** A task that got no answer within its TTL. */
export interface TaskTimeout {
  taskId: string | null;
  workflowId: string | null;
  agent: string;
  capability: string;
  /** Where the (latest) request was read. */
  topic: string;
  partition: number;
  offset: string;
  requestedAt: number;
  /** Event time at which the TTL ran out. */
  expiredAt: number;
  attempts: number;
}

export interface CorrelatorStats {
  inFlight: number;
  requests: number;
  answered: number;
  retries: number;
  /** A request record read again (rebalance or restart), not counted as a retry. */
  redeliveries: number;
  timeouts: number;
  /** Answers that arrived after their task had timed out. */
  lateAnswers: number;
  /** Answers to a task that was already answered. */
  duplicateAnswers: number;
  /** Answers whose request was never seen (or forgotten). */
  orphanAnswers: number;
  /** In-flight tasks dropped because the table was full. */
  evictions: number;
  recentEvictions: number;
}

interface InFlightTask {
  taskId: string | null;
  workflowId: string | null;
  agent: string;
  capability: string;
  topic: string;
  partition: number;
  offset: string;
  requestedAt: number;
  deadline: number;
  attempts: number;
}

type Outcome = 'answered' | 'timed-out' | 'evicted';

interface FinishedTask {
  requestedAt: number;
  attempts: number;
  outcome: Outcome;
}

export class Correlator {
  private readonly inFlight = new OrderedTable<InFlightTask>();
  private readonly recent = new OrderedTable<FinishedTask>();
  private readonly counters: Omit<CorrelatorStats, 'inFlight'> = {
    requests: 0, answered: 0, retries: 0, redeliveries: 0, timeouts: 0, lateAnswers: 0,
    duplicateAnswers: 0, orphanAnswers: 0, evictions: 0, recentEvictions: 0,
  };

  constructor(private readonly options: CorrelatorOptions) {}

  /**
   * Fills latencyMs, retries and timedOut on `events` (in place, in order), then expires tasks whose
   * TTL ran out by event time `now`, and returns those timeouts.
   */
  process(events: readonly AgentEvent[], now: number): TaskTimeout[] {
    for (const event of events) {
      if (event.kind === 'request') this.onRequest(event);
      else if (isAnswer(event)) this.onAnswer(event);
    }
    return this.expire(now);
  }

  stats(): CorrelatorStats {
    return { inFlight: this.inFlight.size, ...this.counters };
  }

  private onRequest(event: AgentEvent): void {
    if (event.method !== null && !TASK_OPENING_METHODS.has(event.method)) return;
    const key = requestKey(event);
    if (key === null) return;
    this.counters.requests += 1;
    let attempts = 1;
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      if (pending.topic === event.topic && pending.partition === event.partition && pending.offset === event.offset) {
        // The same record again: a redelivery to us, not a retry by the fleet.
        this.counters.requests -= 1;
        this.counters.redeliveries += 1;
        event.retries = pending.attempts - 1;
        return;
      }
      attempts = pending.attempts + 1;
      // set() below makes it the newest, so the table stays ordered by latest request.
    } else {
      const finished = this.recent.get(key);
      if (finished !== undefined) {
        attempts = finished.attempts + 1;
        this.recent.delete(key);
      }
    }
    attempts = Math.max(attempts, event.attempt);
    if (attempts > 1) this.counters.retries += 1;
    event.retries = attempts - 1;
    event.attempt = attempts;
    this.inFlight.set(key, {
      taskId: event.taskId, workflowId: event.workflowId, agent: event.agent, capability: event.capability,
      topic: event.topic, partition: event.partition, offset: event.offset,
      requestedAt: event.timestamp, deadline: event.timestamp + this.options.taskTtlMs, attempts,
    });
    if (this.inFlight.size > this.options.maxInFlight) this.evictOldest();
  }

  private onAnswer(event: AgentEvent): void {
    for (const key of answerKeys(event)) {
      const pending = this.inFlight.get(key);
      if (pending !== undefined) {
        this.inFlight.delete(key);
        this.counters.answered += 1;
        event.latencyMs = Math.max(0, event.timestamp - pending.requestedAt);
        event.retries = pending.attempts - 1;
        this.remember(key, { requestedAt: pending.requestedAt, attempts: pending.attempts, outcome: 'answered' });
        return;
      }
    }
    for (const key of answerKeys(event)) {
      const finished = this.recent.get(key);
      if (finished === undefined) continue;
      event.retries = finished.attempts - 1;
      if (finished.outcome === 'answered') {
        this.counters.duplicateAnswers += 1;
      } else {
        // Answered after it timed out (or was evicted): still a latency, and flagged.
        this.counters.lateAnswers += 1;
        event.latencyMs = Math.max(0, event.timestamp - finished.requestedAt);
        event.timedOut = finished.outcome === 'timed-out';
        finished.outcome = 'answered';
      }
      return;
    }
    this.counters.orphanAnswers += 1;
  }

  private expire(now: number): TaskTimeout[] {
    const timeouts: TaskTimeout[] = [];
    // Ordered by latest request, so deadlines are (nearly) ascending: stop at the first live one.
    for (let entry = this.inFlight.oldest(); entry !== undefined && entry.value.deadline <= now; entry = this.inFlight.oldest()) {
      const { key, value: task } = entry;
      this.inFlight.delete(key);
      this.counters.timeouts += 1;
      timeouts.push({
        taskId: task.taskId, workflowId: task.workflowId, agent: task.agent, capability: task.capability,
        topic: task.topic, partition: task.partition, offset: task.offset,
        requestedAt: task.requestedAt, expiredAt: task.deadline, attempts: task.attempts,
      });
      this.remember(key, { requestedAt: task.requestedAt, attempts: task.attempts, outcome: 'timed-out' });
    }
    return timeouts;
  }

  private evictOldest(): void {
    const oldest = this.inFlight.oldest();
    if (oldest === undefined) return;
    this.inFlight.delete(oldest.key);
    this.counters.evictions += 1;
    this.remember(oldest.key, { requestedAt: oldest.value.requestedAt, attempts: oldest.value.attempts, outcome: 'evicted' });
  }

  private remember(key: string, finished: FinishedTask): void {
    this.recent.set(key, finished);
    if (this.recent.size > this.options.maxRecent) {
      const oldest = this.recent.oldest();
      if (oldest !== undefined) {
        this.recent.delete(oldest.key);
        this.counters.recentEvictions += 1;
      }
    }
  }
}

function isAnswer(event: AgentEvent): boolean {
  return event.kind === 'result' || event.kind === 'error' || (event.kind === 'status' && event.state !== null && TERMINAL_STATES.has(event.state));
}

function workflowKey(event: AgentEvent): string | null {
  return event.workflowId === null ? null : `w:${event.workflowId}|${event.capability}|${event.step ?? ''}`;
}

function rpcKey(event: AgentEvent): string | null {
  // JSON-RPC ids are unique per client only; scope them by capability.
  return event.rpcId === null ? null : `r:${event.capability}|${event.rpcId}`;
}

function requestKey(event: AgentEvent): string | null {
  if (event.taskId !== null) return `t:${event.taskId}`;
  return rpcKey(event) ?? workflowKey(event);
}

function answerKeys(event: AgentEvent): string[] {
  const keys: string[] = [];
  if (event.taskId !== null) keys.push(`t:${event.taskId}`);
  const rpc = rpcKey(event);
  if (rpc !== null) keys.push(rpc);
  const workflow = workflowKey(event);
  if (workflow !== null) keys.push(workflow);
  return keys;
}
