// Delivers the anomalies topic to one destination (a webhook, an Alertmanager). The topic is the
// durable queue: each destination reads it in its own consumer group and commits an alert once it
// was delivered, dead-lettered or skipped as silenced. So delivery survives restarts, keeps the order
// of each agent's alerts (an agent's alerts share a partition, read in order), never holds memory for
// a receiver that is down (the backlog stays in Kafka), and never slows ingestion (a separate consumer).
//
// An attempt that fails is retried with doubling backoff; after ALERT_DELIVERY_MAX_ATTEMPTS, or at
// once when the receiver refuses the request itself (a 4xx other than 408/425/429), the alert is
// written as a dead letter and the next one goes. A destination gets the alerts published since it
// was configured (a time kept in the audit store, so a restart before its first commit loses
// nothing), not the topic's history: older records are skipped by their timestamp. Once its group
// has committed offsets, it goes on from them. While it waits
// between attempts the channel heartbeats; a rebalance (the heartbeat fails) ends the batch
// uncommitted, and the partition's new owner starts again from the last commit.

import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { AnomalyAlert } from '../detect/index.js';
import type { Logger } from '../logger.js';
import { alertLabels } from './alert-labels.js';
import { fromAvro, type AvroAlert, type PublishedAlert } from './alert-publisher.js';
import { DeliveryFailure } from './http-post.js';
import type { SilenceBook } from './silences.js';

export interface AlertDestination {
  /** Names it in logs, metrics and dead letters (no credentials). */
  readonly name: string;
  /** Identifies it (its full URL): the channel's consumer group is derived from it, never logged. */
  readonly key: string;
  /** One attempt; throws DeliveryFailure (retryable or not) or any error (retryable). */
  send(alert: AnomalyAlert, signal: AbortSignal): Promise<void>;
  /** Called once `alert` was sent. */
  sent?(alert: AnomalyAlert): void;
  /** Whether this destination was sent the FIRING of `alert` (a RESOLVED) and so is owed its end, silenced or not. */
  owesResolve?(alert: AnomalyAlert): boolean;
  /** Called when a RESOLVED `alert` will not be sent (dead letter, silence): forget its FIRING. */
  forget?(alert: AnomalyAlert): void;
  start?(): void;
  close?(): Promise<void>;
}

export interface DeadLetter {
  destination: string;
  alertId: string;
  state: string;
  partition: number;
  offset: string;
  attempts: number;
  lastError: string;
  /** The record as decoded (or base64 when it could not be). */
  alert: string;
  at: number;
}

export interface DeliveryObserver {
  delivered(destination: string): void;
  failedAttempt(destination: string): void;
  deadLettered(destination: string): void;
  silenced(destination: string): void;
}

export interface DeliveryChannelOptions {
  topic: string;
  /** agentwatch's consumer group; the channel's is <groupId>-alerts-<hash of the destination>. */
  groupId: string;
  decode(value: Buffer): Promise<AvroAlert>;
  /** From when to deliver (ms), given whether the channel's group has committed offsets: older records are skipped. */
  since(groupHasCommits: boolean): Promise<number>;
  /** The silence an alert's FIRING was published under, if any (the anomalies table). */
  firingSilencedBy(alertId: string): Promise<string | null>;
  silences: SilenceBook;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  /** Stores a dead letter (one attempt; the channel retries until it succeeds: a dead letter is never lost). */
  deadLetter(letter: DeadLetter): Promise<void>;
  observer: DeliveryObserver;
  /** Partitions delivered concurrently (each in order). */
  partitionsConcurrently: number;
}

/** FIRING alerts whose RESOLVED must follow even under a silence, per destination. */
const MAX_REMEMBERED_FIRING = 10_000;
/** Heartbeats during a long backoff keep the consumer in its group. */
const HEARTBEAT_MS = 3_000;

export class DeliveryChannel {
  readonly groupId: string;
  private consumer: Consumer | undefined;
  private readonly stopping = new AbortController();
  /** Alert ids whose FIRING this destination got: their RESOLVED goes even when silenced. */
  private readonly firingSent = new Set<string>();
  private counts = { delivered: 0, deadLettered: 0, silenced: 0, failedAttempts: 0 };
  /** Records published before this (ms) predate the destination. */
  private since = 0;

  constructor(
    private readonly kafka: Kafka,
    readonly destination: AlertDestination,
    private readonly options: DeliveryChannelOptions,
    private readonly logger: Logger,
  ) {
    const identity = createHash('sha256').update(destination.key).digest('hex').slice(0, 12);
    this.groupId = `${options.groupId}-alerts-${identity}`;
  }

  /** Joins the channel's group and starts delivering (from the last commit; a new group from the destination's start). */
  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const committed = await admin.fetchOffsets({ groupId: this.groupId, topics: [this.options.topic] });
      const hasCommits = committed.some((t) => t.partitions.some((p) => p.offset !== '-1'));
      this.since = await this.options.since(hasCommits);
    } finally {
      await admin.disconnect();
    }
    this.destination.start?.();
    // A short long-poll: stopping waits for the fetch in flight.
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 500,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [this.options.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrently,
      eachBatch: (payload) => this.deliverBatch(payload),
    });
    this.logger.info(
      { destination: this.destination.name, groupId: this.groupId, topic: this.options.topic },
      'delivering alerts',
    );
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.consumer?.disconnect();
    await this.destination.close?.();
  }

  stats(): { delivered: number; deadLettered: number; silenced: number; failedAttempts: number } {
    return { ...this.counts };
  }

  private async deliverBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    for (const message of batch.messages) {
      if (!payload.isRunning() || payload.isStale() || this.stopping.signal.aborted) return;
      const done = await this.deliverOne(batch.partition, message, payload);
      if (!done) return;
      payload.resolveOffset(message.offset);
      await this.consumer!.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: String(BigInt(message.offset) + 1n) },
      ]);
    }
  }

  /** true once the message is dealt with (delivered, dead-lettered, skipped); false: stop here. */
  private async deliverOne(partition: number, message: KafkaMessage, payload: EachBatchPayload): Promise<boolean> {
    const name = this.destination.name;
    if (Number(message.timestamp) < this.since) return true; // published before the destination existed
    let published: PublishedAlert;
    try {
      published = fromAvro(await this.options.decode(message.value ?? Buffer.alloc(0)));
    } catch (err) {
      return this.storeDeadLetter(payload, {
        destination: name,
        alertId: message.headers?.['agentwatch-alert-id']?.toString() ?? '',
        state: message.headers?.['agentwatch-alert-state']?.toString() ?? '',
        partition,
        offset: message.offset,
        attempts: 0,
        lastError: `the record could not be decoded: ${(err as Error).message}`,
        alert: (message.value ?? Buffer.alloc(0)).toString('base64'),
        at: Date.now(),
      });
    }
    const { alert } = published;
    const owedResolve =
      alert.state === 'RESOLVED' &&
      (this.firingSent.has(alert.alertId) || this.destination.owesResolve?.(alert) === true);
    let silencedBy = published.silencedBy ?? this.options.silences.match(alertLabels(alert), Date.now())?.id;
    // A RESOLVED whose FIRING was silenced (and so never sent here) stays unsent after the silence ends.
    if (silencedBy === undefined && alert.state === 'RESOLVED' && !owedResolve)
      // The store not answering is no reason to hold delivery: at worst a receiver gets an orphan RESOLVED.
      silencedBy = (await this.options.firingSilencedBy(alert.alertId).catch(() => null)) ?? undefined;
    if (silencedBy !== undefined && !owedResolve) {
      if (alert.state === 'RESOLVED') this.destination.forget?.(alert);
      this.counts.silenced += 1;
      this.options.observer.silenced(name);
      return true;
    }
    let lastError = '';
    let attempts = 0;
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt += 1) {
      attempts = attempt;
      if (this.stopping.signal.aborted || !payload.isRunning() || payload.isStale()) return false;
      try {
        await this.destination.send(alert, this.stopping.signal);
        this.remember(alert);
        this.destination.sent?.(alert);
        this.counts.delivered += 1;
        this.options.observer.delivered(name);
        return true;
      } catch (err) {
        if (this.stopping.signal.aborted) return false;
        lastError = (err as Error).message;
        this.counts.failedAttempts += 1;
        this.options.observer.failedAttempt(name);
        const retryable = !(err instanceof DeliveryFailure) || err.retryable;
        this.logger.warn(
          { destination: name, alertId: alert.alertId, state: alert.state, attempt, err: lastError, retryable },
          'alert delivery failed',
        );
        if (!retryable) break;
        if (attempt < this.options.maxAttempts) {
          const wait = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (attempt - 1));
          if (!(await this.sleep(wait, payload))) return false;
        }
      }
    }
    const stored = await this.storeDeadLetter(payload, {
      destination: name,
      alertId: alert.alertId,
      state: alert.state,
      partition,
      offset: message.offset,
      attempts,
      lastError,
      alert: JSON.stringify(alert, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)),
      at: Date.now(),
    });
    if (stored && alert.state === 'RESOLVED') this.destination.forget?.(alert);
    return stored;
  }

  /** Stores a dead letter, retrying (and heartbeating) until the store takes it; false: stopped or rebalanced first. */
  private async storeDeadLetter(payload: EachBatchPayload, letter: DeadLetter): Promise<boolean> {
    for (let backoff = this.options.backoffMs; ; backoff = Math.min(backoff * 2, this.options.maxBackoffMs)) {
      try {
        await this.options.deadLetter(letter);
        break;
      } catch (err) {
        this.logger.warn(
          { destination: letter.destination, alertId: letter.alertId, err: (err as Error).message },
          'could not store a dead letter; retrying',
        );
        if (!(await this.sleep(backoff, payload))) return false;
      }
    }
    this.counts.deadLettered += 1;
    this.options.observer.deadLettered(letter.destination);
    this.logger.error(
      { destination: letter.destination, alertId: letter.alertId, state: letter.state, err: letter.lastError },
      'alert not delivered: written as a dead letter (GET /v1/alerts/dead-letters)',
    );
    return !this.stopping.signal.aborted;
  }

  private remember(alert: AnomalyAlert): void {
    if (alert.state === 'RESOLVED') {
      this.firingSent.delete(alert.alertId);
      return;
    }
    this.firingSent.add(alert.alertId);
    if (this.firingSent.size > MAX_REMEMBERED_FIRING) {
      const oldest = this.firingSent.values().next().value;
      if (oldest !== undefined) this.firingSent.delete(oldest);
    }
  }

  /** Waits `ms`, heartbeating; false when the channel stops or the group rebalances meanwhile. */
  private async sleep(ms: number, payload: EachBatchPayload): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (this.stopping.signal.aborted || !payload.isRunning() || payload.isStale()) return false;
      await delay(Math.min(HEARTBEAT_MS, until - Date.now()), undefined, { signal: this.stopping.signal }).catch(
        () => undefined,
      );
      try {
        await payload.heartbeat();
      } catch {
        return false; // a rebalance: the batch ends uncommitted and its new owner starts from the last commit
      }
    }
    return !this.stopping.signal.aborted;
  }
}
