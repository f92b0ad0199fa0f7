// Matches each task request with its answer (a result, an error, or a terminal status) to fill
// latencyMs, counts retries, and reports tasks left unanswered past their TTL of event time.
//
// Keys: a request is filed under its task id, else its JSON-RPC id, else workflow + capability +
// step; an answer looks up each of its own keys in that order.
//
// Order: live, a request is read before its answer, and the answer event carries latencyMs. While
// catching up a backlog, an answer can be read before its request (they sit on different topics);
// it then waits, up to the TTL of event time, in a table of pending answers, and the request event
// that pairs with it carries latencyMs. Answers waiting under the same key queue in the order read,
// and a request takes the oldest: a failed attempt's error and the retry's result may both be read
// before either request, and the first request is answered by the error. An answer to a task
// already answered, with a later timestamp, waits too: it may answer a retry whose request is not
// read yet; if no request takes it within the TTL it was a duplicate answer. A request read later
// but sent before that answer is a retry of the answered task, not a new task; an answer sent before
// a retry that was read first answers the attempt before it. Both tables are insertion-ordered
// (task-tables.ts: columns indexed by OrderedSlots, no object per task) with a cap: the in-flight table evicts its oldest entry when full (counted, never silent), and the
// table of recently finished tasks, which recognises retries after an answer and duplicate answers,
// drops its oldest.
//
// Pure: event time comes in as an argument; nothing here reads a clock.

import { TASK_OPENING_METHODS, TERMINAL_STATES, type AgentEvent } from '../decode/index.js';
import { DeadlineHeap } from './deadline-heap.js';
import { OrderedTable, orderedEntry, type OrderedEntry } from './ordered-table.js';
import { NO_SLOT } from './ordered-slots.js';
import { FinishedTasks, InFlightTasks, Outcome } from './task-tables.js';

export interface CorrelatorOptions {
  /** An unanswered task times out this long (event time) after its latest request. */
  taskTtlMs: number;
  /** Most tasks in flight; beyond it the oldest is evicted. */
  maxInFlight: number;
  /** Most finished tasks remembered for retry and duplicate detection. */
  maxRecent: number;
}

/** Which task, and where its (latest) request was read. */
export interface TaskRef {
  taskId: string | null;
  workflowId: string | null;
  /** Who sent the request (AgentEvent.producer). */
  producer: string;
  capability: string;
  topic: string;
  partition: number;
  offset: string;
}

/** A task that got no answer within its TTL. */
export interface TaskTimeout extends TaskRef {
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
  /** Answers to a task that was already answered (a later one is counted once no retry took it within the TTL). */
  duplicateAnswers: number;
  /** Answers read before their request, still waiting for it. */
  pendingAnswers: number;
  /** Requests that found their answer already read (catching up). */
  answersBeforeRequests: number;
  /** Answers whose request never arrived within the TTL (or was forgotten). */
  orphanAnswers: number;
  /** In-flight tasks dropped because the table was full. */
  evictions: number;
  recentEvictions: number;
}

interface PendingAnswer {
  answeredAt: number;
  /** The agent that sent it (AgentEvent.producer). */
  producer: string;
  /** Every key the answer is filed under, to remove them together. */
  keys: string[];
  /** Its task was already answered: unclaimed, it is a duplicate answer rather than an orphan. */
  afterAnswer: boolean;
}

export class Correlator {
  private readonly inFlight = new InFlightTasks();
  /**
   * In-flight tasks by deadline, as (deadline, slot); an entry whose slot no longer holds a task with
   * that deadline (answered, retried, evicted since) is skipped when it comes up.
   */
  private readonly deadlines = new DeadlineHeap();
  private readonly recent = new FinishedTasks();
  /** Answers read before their request, per key in the order read; a key is as old as its first answer. */
  private readonly pendingAnswers = new OrderedTable<OrderedEntry<PendingAnswer[]>>();
  private pendingCount = 0;
  /** Tasks found timed out by the answer itself (sent after the deadline), reported with the next expiry. */
  private answeredLate: TaskTimeout[] = [];
  private readonly counters: Omit<CorrelatorStats, 'inFlight' | 'pendingAnswers'> = {
    requests: 0,
    answered: 0,
    answersBeforeRequests: 0,
    retries: 0,
    redeliveries: 0,
    timeouts: 0,
    lateAnswers: 0,
    duplicateAnswers: 0,
    orphanAnswers: 0,
    evictions: 0,
    recentEvictions: 0,
  };

  constructor(private readonly options: CorrelatorOptions) {}

  /**
   * Fills latencyMs, retries and timedOut on `events` (in place, in order), then expires tasks whose
   * TTL ran out by event time `now`, and returns those timeouts.
   */
  process(events: readonly AgentEvent[], now: number): TaskTimeout[] {
    for (const event of events) {
      if (event.clockSkew !== null) continue; // a timestamp no clock explains says nothing about latency
      if (event.kind === 'request') this.onRequest(event);
      else if (isAnswer(event)) this.onAnswer(event);
    }
    return this.expire(now);
  }

  stats(): CorrelatorStats {
    return { inFlight: this.inFlight.size, pendingAnswers: this.pendingCount, ...this.counters };
  }

  private onRequest(event: AgentEvent): void {
    if (event.method !== null && !TASK_OPENING_METHODS.has(event.method)) return;
    const key = primaryKey(event); // a request is filed under its most specific key
    if (key === null) return;
    const { inFlight, recent } = this;
    const pending = inFlight.slots.slotOf(key);
    if (pending !== NO_SLOT && inFlight.readAt(pending, event)) {
      // The same record again: a redelivery to us, not a retry by the fleet.
      this.counters.redeliveries += 1;
      event.retries = inFlight.attempts[pending]! - 1;
      return;
    }
    const finished = pending === NO_SLOT ? recent.slots.slotOf(key) : NO_SLOT;
    if (finished !== NO_SLOT && recent.readAt(finished, event)) {
      this.counters.redeliveries += 1;
      event.retries = recent.attempts[finished]! - 1;
      return;
    }
    this.counters.requests += 1;
    const attempts = Math.max(
      event.attempt,
      pending !== NO_SLOT ? inFlight.attempts[pending]! + 1 : finished !== NO_SLOT ? recent.attempts[finished]! + 1 : 1,
    );
    // event.attempt stays what the record declares (the audit row stores that); retries says what correlation found.
    event.retries = attempts - 1;
    if (attempts > 1) this.counters.retries += 1;

    // NaN (not answered) compares false.
    if (finished !== NO_SLOT && recent.answeredAt[finished]! >= event.timestamp) {
      // Sent before the answer that was already read: a retry of the answered task.
      recent.attempts[finished] = attempts;
      recent.setReadAt(finished, event);
      event.latencyMs = recent.answeredAt[finished]! - event.timestamp;
      return;
    }
    const early = this.takePendingAnswer(event);
    if (early !== undefined) {
      this.counters.answered += 1;
      this.counters.answersBeforeRequests += 1;
      event.latencyMs = Math.max(0, early.answeredAt - event.timestamp);
      event.answeredBy = early.producer;
      if (early.answeredAt > event.timestamp + this.options.taskTtlMs) {
        // Answered after its deadline, read in the other order: still a timeout.
        this.counters.timeouts += 1;
        this.counters.lateAnswers += 1;
        event.timedOut = true;
        this.answeredLate.push(timeoutOfEvent(event, event.timestamp + this.options.taskTtlMs, attempts));
      }
      this.remember(
        key,
        event.timestamp,
        early.answeredAt,
        attempts,
        Outcome.answered,
        event.topic,
        event.partition,
        event.offset,
      );
      return;
    }
    if (finished !== NO_SLOT) recent.delete(finished);
    // The task becomes the newest, so the table stays ordered by latest request read (for eviction).
    const deadline = event.timestamp + this.options.taskTtlMs;
    const earlierRequestedAt = pending === NO_SLOT ? Number.NaN : inFlight.requestedAt[pending]!;
    const slot = inFlight.set(key, pending, event, earlierRequestedAt, deadline, attempts);
    this.deadlines.push(deadline, slot);
    if (inFlight.size > this.options.maxInFlight) this.evictOldest();
  }

  /** Removes and returns the oldest answer read before this request under the first of its keys that has one. */
  private takePendingAnswer(request: AgentEvent): PendingAnswer | undefined {
    if (this.pendingCount === 0) return undefined; // the usual case once caught up
    for (const key of correlationKeys(request)) {
      const early = this.pendingAnswers.get(key)?.value[0];
      if (early === undefined) continue;
      this.removePending(early);
      return early;
    }
    return undefined;
  }

  /** Files an answer read before its request under each of its keys, behind any already waiting there. */
  private addPending(answer: PendingAnswer): void {
    for (const key of answer.keys) {
      const queue = this.pendingAnswers.get(key);
      if (queue === undefined) this.pendingAnswers.set(orderedEntry(key, [answer]));
      else queue.value.push(answer);
    }
    this.pendingCount += 1;
    while (this.pendingCount > this.options.maxInFlight) {
      this.removePending(this.pendingAnswers.oldest()!.value[0]!);
      this.counters.orphanAnswers += 1;
      this.counters.evictions += 1;
    }
  }

  private removePending(answer: PendingAnswer): void {
    for (const key of answer.keys) {
      const entry = this.pendingAnswers.get(key);
      if (entry === undefined) continue;
      const queue = entry.value;
      const at = queue.indexOf(answer);
      if (at >= 0) queue.splice(at, 1);
      if (queue.length === 0) this.pendingAnswers.delete(key);
      else if (at === 0) this.pendingAnswers.set(entry); // as old as its new first answer
    }
    this.pendingCount -= 1;
  }

  private onAnswer(event: AgentEvent): void {
    event.answeredBy = event.producer;
    const { inFlight, recent } = this;
    // The usual case, an answer whose task id finds its request in flight, builds no other key.
    if (event.taskId !== null) {
      const slot = inFlight.slots.slotOf(taskKey(event.taskId));
      if (slot !== NO_SLOT) {
        this.answerInFlight(event, slot);
        return;
      }
    }
    const keys = answerKeys(event);
    for (const key of keys) {
      const slot = inFlight.slots.slotOf(key);
      if (slot !== NO_SLOT) {
        this.answerInFlight(event, slot);
        return;
      }
    }
    for (const key of keys) {
      const finished = recent.slots.slotOf(key);
      if (finished === NO_SLOT) continue;
      event.retries = recent.attempts[finished]! - 1;
      if (recent.outcome[finished] === Outcome.answered) {
        const ownKeys = correlationKeys(event);
        // Later than the answer it already got: perhaps the answer to a retry not read yet (NaN compares false).
        if (event.timestamp > recent.answeredAt[finished]! && ownKeys.length > 0)
          this.addPending({ answeredAt: event.timestamp, producer: event.producer, keys: ownKeys, afterAnswer: true });
        else this.counters.duplicateAnswers += 1;
      } else {
        // Answered after it timed out (or was evicted): still a latency, and flagged.
        this.counters.lateAnswers += 1;
        event.latencyMs = Math.max(0, event.timestamp - recent.requestedAt[finished]!);
        event.timedOut = recent.outcome[finished] === Outcome.timedOut;
        recent.outcome[finished] = Outcome.answered;
        recent.answeredAt[finished] = event.timestamp;
      }
      return;
    }
    // Read before its request (catching up): wait for the request, up to the TTL, under its own keys only.
    const ownKeys = correlationKeys(event);
    if (ownKeys.length === 0) {
      this.counters.orphanAnswers += 1;
      return;
    }
    this.addPending({ answeredAt: event.timestamp, producer: event.producer, keys: ownKeys, afterAnswer: false });
  }

  /** An answer to the task in flight in `slot`. */
  private answerInFlight(event: AgentEvent, slot: number): void {
    const { inFlight } = this;
    const requestedAt = inFlight.requestedAt[slot]!;
    const earlierRequestedAt = inFlight.earlierRequestedAt[slot]!;
    const attempts = inFlight.attempts[slot]!;
    if (!Number.isNaN(earlierRequestedAt) && event.timestamp < requestedAt) {
      // Sent before the latest attempt was requested: it answers the attempt before, whose retry
      // was read first. The task stays in flight for the latest attempt's answer.
      this.counters.answered += 1;
      event.latencyMs = Math.max(0, event.timestamp - earlierRequestedAt);
      event.retries = Math.max(0, attempts - 2);
      inFlight.earlierRequestedAt[slot] = Number.NaN;
      return;
    }
    this.counters.answered += 1;
    event.latencyMs = Math.max(0, event.timestamp - requestedAt);
    event.retries = attempts - 1;
    const deadline = inFlight.deadline[slot]!;
    if (event.timestamp > deadline) {
      // Sent after its deadline: a timeout, whether or not the clock got there before the answer was read.
      this.counters.timeouts += 1;
      this.counters.lateAnswers += 1;
      event.timedOut = true;
      this.answeredLate.push(this.timeoutOf(slot));
    }
    this.finish(slot, event.timestamp, Outcome.answered);
  }

  private expire(now: number): TaskTimeout[] {
    const early = this.answeredLate.length;
    const timeouts: TaskTimeout[] = early === 0 ? [] : this.answeredLate.splice(0);
    const { inFlight, deadlines } = this;
    // In deadline order, whatever order the requests were read in.
    while (deadlines.peekDeadline() <= now) {
      const deadline = deadlines.peekDeadline();
      const slot = deadlines.peekSlot();
      deadlines.pop();
      if (!this.holds(deadline, slot)) continue; // answered, retried or evicted since
      this.counters.timeouts += 1;
      timeouts.push(this.timeoutOf(slot));
      this.finish(slot, Number.NaN, Outcome.timedOut);
    }
    if (early > 0) timeouts.sort((a, b) => a.expiredAt - b.expiredAt);
    // Entries of tasks that left the table wait for their deadline: drop them once they are an eighth
    // of the live ones (an O(n) pass every n/8 answers).
    if (deadlines.size > inFlight.size + (inFlight.size >> 3) + 1024)
      deadlines.retain((deadline, slot) => this.holds(deadline, slot));
    // Answers whose request did not show up within the TTL.
    for (
      let entry = this.pendingAnswers.oldest();
      entry !== undefined && entry.value[0]!.answeredAt + this.options.taskTtlMs <= now;
      entry = this.pendingAnswers.oldest()
    ) {
      const unclaimed = entry.value[0]!;
      this.removePending(unclaimed);
      if (unclaimed.afterAnswer) this.counters.duplicateAnswers += 1;
      else this.counters.orphanAnswers += 1;
    }
    return timeouts;
  }

  /**
   * Whether a deadline entry still stands for the task in `slot`: the slot holds a task with that
   * deadline. A slot reused by a task with the same deadline is that task's due time all the same.
   */
  private holds(deadline: number, slot: number): boolean {
    return this.inFlight.slots.keyOf(slot) !== undefined && this.inFlight.deadline[slot] === deadline;
  }

  private evictOldest(): void {
    const oldest = this.inFlight.slots.oldest();
    if (oldest === NO_SLOT) return;
    this.counters.evictions += 1;
    this.finish(oldest, Number.NaN, Outcome.evicted);
  }

  /** The task in flight in `slot` as a timeout. */
  private timeoutOf(slot: number): TaskTimeout {
    const { inFlight } = this;
    return {
      taskId: inFlight.taskId[slot]!,
      workflowId: inFlight.workflowId[slot]!,
      producer: inFlight.producer[slot]!,
      capability: inFlight.capability[slot]!,
      topic: inFlight.topic[slot]!,
      partition: inFlight.partition[slot]!,
      offset: inFlight.offset[slot]!,
      requestedAt: inFlight.requestedAt[slot]!,
      expiredAt: inFlight.deadline[slot]!,
      attempts: inFlight.attempts[slot]!,
    };
  }

  /** Moves the task in flight in `slot` to the recently finished ones. answeredAt: NaN when not answered. */
  private finish(slot: number, answeredAt: number, outcome: Outcome): void {
    const { inFlight } = this;
    const key = inFlight.slots.keyOf(slot)!;
    const { topic, partition, offset } = inFlight;
    this.remember(
      key,
      inFlight.requestedAt[slot]!,
      answeredAt,
      inFlight.attempts[slot]!,
      outcome,
      topic[slot]!,
      partition[slot]!,
      offset[slot]!,
    );
    inFlight.delete(slot);
  }

  /**
   * Files a finished task under `key` in the table of recently finished ones, read where its latest
   * request was (topic, partition, offset), keeping the table within maxRecent. answeredAt: NaN when
   * not answered.
   */
  private remember(
    key: string,
    requestedAt: number,
    answeredAt: number,
    attempts: number,
    outcome: Outcome,
    topic: string,
    partition: number,
    offset: string,
  ): void {
    const { recent } = this;
    recent.set(key, requestedAt, answeredAt, attempts, outcome, topic, partition, offset);
    if (recent.size <= this.options.maxRecent) return;
    const oldest = recent.slots.oldest();
    if (oldest === NO_SLOT) return;
    recent.delete(oldest);
    this.counters.recentEvictions += 1;
  }
}

/** A request answered after its TTL, read after its answer: the timeout of the task `event` requested. */
function timeoutOfEvent(event: AgentEvent, expiredAt: number, attempts: number): TaskTimeout {
  return {
    taskId: event.taskId,
    workflowId: event.workflowId,
    producer: event.producer,
    capability: event.capability,
    topic: event.topic,
    partition: event.partition,
    offset: event.offset,
    requestedAt: event.timestamp,
    expiredAt,
    attempts,
  };
}

function isAnswer(event: AgentEvent): boolean {
  return (
    event.kind === 'result' ||
    event.kind === 'error' ||
    (event.kind === 'status' && event.state !== null && TERMINAL_STATES.has(event.state))
  );
}

// Keys of the three kinds share one table. A task id is its own key, so a request or an answer with
// one builds no string (most do; a key built per message was a third of the correlator's time); the
// other kinds start with a NUL character, and a task id that itself starts with one is escaped, so
// no key of one kind can equal a key of another.

function taskKey(taskId: string): string {
  return taskId.charCodeAt(0) === 0 ? `\u0000t:${taskId}` : taskId;
}

function workflowKey(event: AgentEvent): string | null {
  return event.workflowId === null ? null : `\u0000w:${event.workflowId}|${event.capability}|${event.step ?? ''}`;
}

function rpcKey(event: AgentEvent): string | null {
  // JSON-RPC ids are unique per client only; scope them by capability.
  return event.rpcId === null ? null : `\u0000r:${event.capability}|${event.rpcId}`;
}

/** The most specific key an event is known by (see correlationKeys), or null when it has none. */
function primaryKey(event: AgentEvent): string | null {
  return event.taskId !== null ? taskKey(event.taskId) : (rpcKey(event) ?? workflowKey(event));
}

/**
 * The keys an event is known by: its task id and JSON-RPC id when it has either; only without both,
 * its workflow + capability + step, which many tasks may share and so must never stand in for a
 * missing specific id.
 */
function correlationKeys(event: AgentEvent): string[] {
  const keys: string[] = [];
  if (event.taskId !== null) keys.push(taskKey(event.taskId));
  const rpc = rpcKey(event);
  if (rpc !== null) keys.push(rpc);
  if (keys.length === 0) {
    const workflow = workflowKey(event);
    if (workflow !== null) keys.push(workflow);
  }
  return keys;
}

/**
 * Where an answer may find its request: its own keys, then its workflow key, under which only requests
 * without a task id or JSON-RPC id are ever filed (the task envelope without task_id, answered with one).
 */
function answerKeys(event: AgentEvent): string[] {
  const keys = correlationKeys(event);
  const workflow = workflowKey(event);
  if (workflow !== null && !keys.includes(workflow)) keys.push(workflow);
  return keys;
}
