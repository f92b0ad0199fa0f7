// The correlator's two tables of tasks, in columns: a task is a slot (OrderedSlots), its fields
// entries of typed arrays (numbers) and plain arrays (strings, shared with the events they came
// from). At 100,000 tasks in flight and as many recently finished, an object per task with its
// boxed timestamps was about 230 bytes more per task, all of it promoted to the old generation.

import type { AgentEvent } from '../decode/index.js';
import { OrderedSlots, grownColumn, grownFloat64, grownInt32, grownUint8 } from './ordered-slots.js';

/** Where a task's latest request was read. */
export type ReadAt = Pick<AgentEvent, 'topic' | 'partition' | 'offset'>;

/** What both tables keep of a task: its slot, where its latest request was read, when, and its attempts. */
abstract class TaskColumns {
  readonly slots = new OrderedSlots((capacity) => this.grow(capacity));
  /** Where the latest request was read, to tell a redelivery from a retry. */
  readonly topic: string[] = [];
  readonly offset: string[] = [];
  partition = new Int32Array(0);
  requestedAt = new Float64Array(0);
  attempts = new Float64Array(0);

  get size(): number {
    return this.slots.size;
  }

  /** Whether `event` is the record the task's latest request was read from (a redelivery, not a retry). */
  readAt(slot: number, event: ReadAt): boolean {
    return (
      this.offset[slot] === event.offset && this.partition[slot] === event.partition && this.topic[slot] === event.topic
    );
  }

  setReadAt(slot: number, read: ReadAt): void {
    this.topic[slot] = read.topic;
    this.partition[slot] = read.partition;
    this.offset[slot] = read.offset;
  }

  /** Frees the slot, dropping its strings. */
  delete(slot: number): void {
    this.slots.delete(slot);
    this.topic[slot] = '';
    this.offset[slot] = '';
  }

  /** Makes every column hold `capacity` slots. */
  protected grow(capacity: number): void {
    for (const column of [this.topic, this.offset]) grownColumn(column, capacity, '');
    this.partition = grownInt32(this.partition, capacity);
    this.requestedAt = grownFloat64(this.requestedAt, capacity);
    this.attempts = grownFloat64(this.attempts, capacity);
  }
}

/** Tasks waiting for their answer, oldest (latest request read) first. */
export class InFlightTasks extends TaskColumns {
  readonly taskId: Array<string | null> = [];
  readonly workflowId: Array<string | null> = [];
  /** Who sent the request (AgentEvent.producer). */
  readonly producer: string[] = [];
  readonly capability: string[] = [];
  /** The previous attempt's request, while its answer has not been read (a retry read before it); NaN: none. */
  earlierRequestedAt = new Float64Array(0);
  deadline = new Float64Array(0);

  /** Files the task requested by `event` under `key` (in `slot` when it is already in flight there), as the newest. */
  set(
    key: string,
    slot: number,
    event: AgentEvent,
    earlierRequestedAt: number,
    deadline: number,
    attempts: number,
  ): number {
    if (slot < 0) slot = this.slots.add(key);
    else this.slots.touch(slot);
    this.taskId[slot] = event.taskId;
    this.workflowId[slot] = event.workflowId;
    this.producer[slot] = event.producer;
    this.capability[slot] = event.capability;
    this.setReadAt(slot, event);
    this.requestedAt[slot] = event.timestamp;
    this.earlierRequestedAt[slot] = earlierRequestedAt;
    this.deadline[slot] = deadline;
    this.attempts[slot] = attempts;
    return slot;
  }

  override delete(slot: number): void {
    super.delete(slot);
    this.taskId[slot] = null;
    this.workflowId[slot] = null;
    this.producer[slot] = '';
    this.capability[slot] = '';
  }

  protected override grow(capacity: number): void {
    super.grow(capacity);
    for (const column of [this.taskId, this.workflowId]) grownColumn<string | null>(column, capacity, null);
    for (const column of [this.producer, this.capability]) grownColumn(column, capacity, '');
    this.earlierRequestedAt = grownFloat64(this.earlierRequestedAt, capacity);
    this.deadline = grownFloat64(this.deadline, capacity);
  }
}

/** How a task finished, as stored in FinishedTasks.outcome. */
export const Outcome = { answered: 0, timedOut: 1, evicted: 2 } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** Tasks recently finished (answered, timed out or evicted), oldest first: to tell retries, redeliveries and duplicate answers. */
export class FinishedTasks extends TaskColumns {
  /** NaN: not answered. */
  answeredAt = new Float64Array(0);
  /** An Outcome. */
  outcome = new Uint8Array(0);

  /** Files a finished task under `key`, in place of what was there, as the newest. */
  set(
    key: string,
    requestedAt: number,
    answeredAt: number,
    attempts: number,
    outcome: Outcome,
    topic: string,
    partition: number,
    offset: string,
  ): void {
    let slot = this.slots.slotOf(key);
    if (slot < 0) slot = this.slots.add(key);
    else this.slots.touch(slot);
    this.requestedAt[slot] = requestedAt;
    this.answeredAt[slot] = answeredAt;
    this.attempts[slot] = attempts;
    this.outcome[slot] = outcome;
    this.topic[slot] = topic;
    this.partition[slot] = partition;
    this.offset[slot] = offset;
  }

  protected override grow(capacity: number): void {
    super.grow(capacity);
    this.answeredAt = grownFloat64(this.answeredAt, capacity);
    this.outcome = grownUint8(this.outcome, capacity);
  }
}
