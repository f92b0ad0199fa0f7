// An A2A-over-Kafka agent fleet on a real broker, in the seed's pattern: a dispatcher publishes tasks
// to agent.tasks.<capability> keyed by workflow id; workers in one consumer group per capability
// process them and publish answers to agent.results.<capability>, committing manually; the dispatcher
// chains each workflow's steps (extract → summarize → classify) and re-sends a task whose answer was
// an error (same task id, attempt + 1): the retry the wire shows.
//
// Time: record timestamps come from a virtual clock that runs `speed` times faster than the wall
// clock, and a worker waits latency / speed before answering, so an accelerated run shows the
// pipeline hours of fleet behaviour in minutes (the event time is what agentwatch measures).
//
// Concurrency: a worker answers the tasks it has fetched concurrently, as A2A agents do, up to
// MAX_TASKS_IN_FLIGHT (then it stops fetching, like a full worker pool), and commits each batch once
// all of its answers are out, in batch order. A worker that waited for a batch's slowest task before
// fetching the next would turn one agent's latency spike into a stall of every later step: a gap in
// the next agent's traffic that no real fleet shows. The dispatcher handles a batch of answers
// concurrently too.

import { randomUUID } from 'node:crypto';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import {
  Partitioners,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
  type Producer,
} from 'kafkajs';
import { readFileSync } from 'node:fs';
import type { Logger } from '../logger.js';
import { a2aSendMessage, a2aTaskCompleted } from './a2a-messages.js';
import { lognormal, seededRandom, unseededRandom, type Random } from './random.js';
import { activeEffects, type CapabilityProfile, type Scenario } from './scenario.js';

const ENVELOPE_SCHEMA = new URL('../../../schemas/a2a-envelope.avsc', import.meta.url);

export interface SimulatorStats {
  workflowsStarted: number;
  workflowsCompleted: number;
  tasksDispatched: number;
  retries: number;
  answers: number;
  errors: number;
  abandoned: number;
  eventTimeMs: number;
}

const MAX_TASKS_IN_FLIGHT = 1000;

/** One worker's answers under way, and the chain of its batch commits. */
interface WorkerState {
  inFlight: number;
  commits: Promise<void>;
}

interface PendingTask {
  workflowId: string;
  step: number;
  attempt: number;
}

export class FleetSimulator {
  private producer!: Producer;
  private readonly consumers: Consumer[] = [];
  private readonly pending = new Map<string, PendingTask>();
  private avroSchemaId = 0;
  private timer: NodeJS.Timeout | undefined;
  private startReal = 0;
  private startEvent = 0;
  private owedWorkflows = 0;
  private lastTick = 0;
  private stopped = false;
  private readonly stats: SimulatorStats = {
    workflowsStarted: 0,
    workflowsCompleted: 0,
    tasksDispatched: 0,
    retries: 0,
    answers: 0,
    errors: 0,
    abandoned: 0,
    eventTimeMs: 0,
  };
  private readonly runId = randomUUID().slice(0, 8);
  private readonly random: Random;
  private finished!: () => void;
  /** Resolves when the scenario's duration has passed in event time. */
  readonly done: Promise<void> = new Promise((resolve) => {
    this.finished = resolve;
  });

  constructor(
    private readonly kafka: Kafka,
    private readonly registry: SchemaRegistry,
    private readonly scenario: Scenario,
    private readonly logger: Logger,
    private readonly options: { partitions?: number; startEventTime?: number; seed?: number } = {},
  ) {
    this.random = options.seed === undefined ? unseededRandom() : seededRandom(options.seed);
  }

  /** Event time now: the virtual clock. */
  now(): number {
    return this.startEvent + (Date.now() - this.startReal) * this.scenario.speed;
  }

  /** Creates the fleet's topics when missing (start does it too). */
  async ensureTopics(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const topics = this.scenario.capabilities
        .flatMap((c) => [`agent.tasks.${c.name}`, `agent.results.${c.name}`])
        .filter((t) => !existing.has(t));
      if (topics.length > 0)
        await admin.createTopics({
          waitForLeaders: true,
          topics: topics.map((topic) => ({ topic, numPartitions: this.options.partitions ?? 3 })),
        });
    } finally {
      await admin.disconnect();
    }
  }

  /** Creates the topics, registers the Avro schema, starts the workers and the dispatcher. */
  async start(): Promise<void> {
    await this.ensureTopics();
    if (this.scenario.capabilities.some((c) => c.format === 'avro')) {
      const schema = readFileSync(ENVELOPE_SCHEMA, 'utf8');
      for (const c of this.scenario.capabilities.filter((cap) => cap.format === 'avro')) {
        this.avroSchemaId = (
          await this.registry.register({ type: SchemaType.AVRO, schema }, { subject: `agent.tasks.${c.name}-value` })
        ).id;
      }
    }
    this.producer = this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await this.producer.connect();
    for (const capability of this.scenario.capabilities) {
      for (let w = 0; w < capability.workers; w += 1) await this.startWorker(capability, w);
    }
    await this.startDispatcherListener();
    this.startReal = Date.now();
    this.startEvent = this.options.startEventTime ?? Date.now();
    this.lastTick = this.startReal;
    this.timer = setInterval(() => void this.tick(), 50);
    this.logger.info(
      {
        capabilities: this.scenario.capabilities.map((c) => `${c.name} (${c.format})`),
        speed: this.scenario.speed,
        faults: this.scenario.faults,
      },
      'fleet simulator started',
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const consumer of this.consumers) await consumer.disconnect();
    await this.producer?.disconnect();
  }

  snapshot(): SimulatorStats {
    return { ...this.stats, eventTimeMs: this.now() - this.startEvent };
  }

  private offset(): number {
    return this.now() - this.startEvent;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const eventElapsed = (now - this.lastTick) * this.scenario.speed;
    this.lastTick = now;
    if (this.scenario.durationMs > 0 && this.offset() >= this.scenario.durationMs) {
      clearInterval(this.timer);
      this.finished();
      return;
    }
    this.owedWorkflows += (eventElapsed / 1000) * this.scenario.workflowsPerSecond;
    const starting = Math.floor(this.owedWorkflows);
    this.owedWorkflows -= starting;
    const sends: Array<Promise<void>> = [];
    // Spread over the interval since the last tick: a pause of this process (GC, a busy event loop)
    // must not become a gap in the fleet's traffic, which at 60× would look like a rate drop.
    const until = this.now();
    for (let i = 0; i < starting; i += 1) {
      this.stats.workflowsStarted += 1;
      const at = until - eventElapsed + ((i + 0.5) / starting) * eventElapsed;
      sends.push(this.dispatch(`wf-${this.runId}-${this.stats.workflowsStarted}`, 0, 1, `task-${randomUUID()}`, at));
    }
    await Promise.all(sends).catch((err: unknown) => this.logger.warn({ err }, 'dispatch failed'));
  }

  /** Sends step `step` of a workflow (skipping capabilities a joint shift thins out). */
  private async dispatch(
    workflowId: string,
    step: number,
    attempt: number,
    taskId: string,
    at = this.now(),
  ): Promise<void> {
    let index = step;
    while (index < this.scenario.capabilities.length && attempt === 1) {
      const share = activeEffects(this.scenario.faults, this.scenario.capabilities[index]!, this.offset()).rate;
      if (share >= 1 || this.random.uniform() < share) break;
      index += 1;
    }
    const capability = this.scenario.capabilities[index];
    if (capability === undefined) {
      this.stats.workflowsCompleted += 1;
      return;
    }
    this.pending.set(taskId, { workflowId, step: index, attempt });
    if (this.pending.size > 100_000) this.pending.delete(this.pending.keys().next().value!);
    this.stats.tasksDispatched += 1;
    if (attempt > 1) this.stats.retries += 1;
    await this.producer.send({
      topic: `agent.tasks.${capability.name}`,
      messages: [
        {
          key: workflowId,
          timestamp: String(Math.round(at)),
          headers: { 'a2a-attempt': String(attempt), 'agent-id': 'dispatcher' },
          value: await this.encodeRequest(capability, workflowId, taskId, index, attempt),
        },
      ],
    });
  }

  private async encodeRequest(
    capability: CapabilityProfile,
    workflowId: string,
    taskId: string,
    step: number,
    attempt: number,
  ): Promise<Buffer | string> {
    const text = 'x'.repeat(Math.max(1, Math.round(lognormal(this.random, capability.payloadMedianBytes / 2, 0.2))));
    if (capability.format === 'a2a')
      return a2aSendMessage(
        { workflowId, taskId, rpcId: randomUUID(), messageId: randomUUID() },
        String(step),
        attempt,
        text,
      );
    const envelope = {
      workflow_id: workflowId,
      task_type: capability.name,
      task_id: taskId,
      payload: JSON.stringify({ text }),
      a2a_version: '1.0',
    };
    if (capability.format === 'avro') return this.registry.encode(this.avroSchemaId, envelope);
    return JSON.stringify({ ...envelope, payload: { text }, step, attempt });
  }

  private async startWorker(capability: CapabilityProfile, index: number): Promise<void> {
    // One group per run: a new run must not inherit (and answer) the tasks an earlier run left.
    const consumer = this.kafka.consumer({
      groupId: `sim-worker-${capability.name}-${this.runId}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 200,
      heartbeatInterval: 500,
    });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: [`agent.tasks.${capability.name}`], fromBeginning: false });
    const state: WorkerState = { inFlight: 0, commits: Promise.resolve() };
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.work(capability, index, consumer, state, payload),
    });
    this.consumers.push(consumer);
    await joined; // the first task must not be sent before a worker listens (the group starts at the latest offset)
  }

  /** Starts answering every task of a batch; its offsets are committed once all of them are answered. */
  private async work(
    capability: CapabilityProfile,
    worker: number,
    consumer: Consumer,
    state: WorkerState,
    // oxlint-disable-next-line typescript/unbound-method -- kafkajs hands closures, not methods
    { batch, resolveOffset, heartbeat, isRunning }: EachBatchPayload,
  ): Promise<void> {
    const last = batch.messages.at(-1);
    if (last === undefined) return;
    state.inFlight += batch.messages.length;
    const answered = Promise.all(
      batch.messages.map((message) => this.answer(capability, worker, message, isRunning)),
    ).finally(() => {
      state.inFlight -= batch.messages.length;
    });
    resolveOffset(last.offset);
    const next = { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last.offset) + 1n) };
    state.commits = state.commits
      .then(() => answered)
      .then(() => (this.stopped ? undefined : consumer.commitOffsets([next])))
      .catch((err: unknown) => {
        if (!this.stopped) this.logger.warn({ err, capability: capability.name }, 'worker commit failed');
      });
    if (state.inFlight >= MAX_TASKS_IN_FLIGHT) await state.commits;
    await heartbeat();
  }

  /** Answers one task after its simulated latency. */
  private async answer(
    capability: CapabilityProfile,
    worker: number,
    message: KafkaMessage,
    isRunning: () => boolean,
  ): Promise<void> {
    const taskTs = Number(message.timestamp);
    const task = await this.decodeTask(capability, message.value ?? Buffer.alloc(0));
    if (task === undefined) return;
    const { conditions } = activeEffects(this.scenario.faults, capability, taskTs - this.startEvent);
    if (conditions.unanswered) return; // takes the task, never answers
    const slowed = this.random.uniform() < conditions.tailShare ? conditions.tailMultiplier : 1;
    const latency = Math.round(
      lognormal(this.random, capability.latencyMedianMs * conditions.latencyFactor * slowed, capability.latencySigma),
    );
    await new Promise((resolve) => setTimeout(resolve, latency / this.scenario.speed));
    if (!isRunning() || this.stopped) return;
    const failed = this.random.uniform() < conditions.failureRate;
    const size = Math.round(lognormal(this.random, capability.payloadMedianBytes * conditions.payloadFactor, 0.2));
    await this.producer.send({
      topic: `agent.results.${capability.name}`,
      messages: [
        {
          key: task.workflowId,
          timestamp: String(taskTs + latency),
          headers: {
            'agent-id': `${capability.name}-worker-${worker}`,
            'a2a-attempt': message.headers?.['a2a-attempt']?.toString() ?? '1',
          },
          value: encodeAnswer(capability, task, failed, 'y'.repeat(Math.max(1, size))),
        },
      ],
    });
  }

  private async decodeTask(
    capability: CapabilityProfile,
    value: Buffer,
  ): Promise<{ workflowId: string; taskId: string; rpcId: string | null } | undefined> {
    try {
      if (capability.format === 'avro') {
        const decoded = (await this.registry.decode(value)) as { workflow_id: string; task_id: string | null };
        return { workflowId: decoded.workflow_id, taskId: decoded.task_id ?? '', rpcId: null };
      }
      const body = JSON.parse(value.toString('utf8')) as Record<string, any>;
      if (capability.format === 'a2a')
        return {
          workflowId: String(body.params?.message?.contextId ?? ''),
          taskId: String(body.params?.message?.taskId ?? ''),
          rpcId: String(body.id),
        };
      return { workflowId: String(body.workflow_id), taskId: String(body.task_id), rpcId: null };
    } catch {
      return undefined;
    }
  }

  /** The dispatcher reads every answer: on success the workflow's next step, on error a retry. */
  private async startDispatcherListener(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: `sim-dispatcher-${this.runId}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 200,
      heartbeatInterval: 500,
    });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({
      topics: this.scenario.capabilities.map((c) => `agent.results.${c.name}`),
      fromBeginning: false,
    });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        await Promise.all(
          batch.messages.map((message) =>
            this.onAnswer(message.value?.toString('utf8') ?? '', Number(message.timestamp)),
          ),
        );
      },
    });
    this.consumers.push(consumer);
    await joined;
  }

  /** One answer: the workflow's next step, or a retry of a failed task. */
  private async onAnswer(text: string, answeredAt: number): Promise<void> {
    // The next step goes out when the answer was sent (a dispatcher that read it at once), not when
    // this process got round to it: a pause here must not open a gap in the next agent's traffic.
    const at = Math.min(this.now(), answeredAt + 5);
    const answer = parseAnswer(text);
    if (answer === undefined) return;
    const task = this.pending.get(answer.taskId);
    if (task === undefined) return;
    this.pending.delete(answer.taskId);
    this.stats.answers += 1;
    if (answer.ok) {
      await this.dispatch(task.workflowId, task.step + 1, 1, `task-${randomUUID()}`, at);
    } else {
      this.stats.errors += 1;
      if (task.attempt < this.scenario.maxAttempts)
        await this.dispatch(task.workflowId, task.step, task.attempt + 1, answer.taskId, at);
      else this.stats.abandoned += 1;
    }
  }
}

function encodeAnswer(
  capability: CapabilityProfile,
  task: { workflowId: string; taskId: string; rpcId: string | null },
  failed: boolean,
  text: string,
): string {
  if (capability.format === 'a2a') {
    if (failed)
      return JSON.stringify({
        jsonrpc: '2.0',
        id: task.rpcId,
        error: { code: -32603, message: 'worker failed', data: { taskId: task.taskId } },
      });
    return a2aTaskCompleted({ ...task, messageId: randomUUID() }, text);
  }
  return JSON.stringify(
    failed
      ? { workflow_id: task.workflowId, task_id: task.taskId, error: { type: 'WorkerError', message: 'worker failed' } }
      : { workflow_id: task.workflowId, task_id: task.taskId, result: { text } },
  );
}

function parseAnswer(text: string): { taskId: string; ok: boolean } | undefined {
  try {
    const body = JSON.parse(text) as Record<string, any>;
    if (body.jsonrpc === '2.0') {
      if (body.error !== undefined) return { taskId: String(body.error?.data?.taskId ?? ''), ok: false };
      return { taskId: String(body.result?.task?.id ?? ''), ok: true };
    }
    return { taskId: String(body.task_id), ok: body.error === undefined };
  } catch {
    return undefined;
  }
}
