// Publishes alerts to the anomalies topic as Avro (schemas/anomaly-alert.avsc, registered under
// <topic>-value at start), keyed by agent, acknowledged by all in-sync replicas.

import { readFileSync } from 'node:fs';
import { SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Producer } from 'kafkajs';
import type { AnomalyAlert } from '../detect/index.js';

export const ANOMALY_ALERT_SCHEMA = new URL('../../../schemas/anomaly-alert.avsc', import.meta.url);

const REGISTER_ATTEMPTS = 4;

export class AlertPublisher {
  private published = 0;

  private constructor(
    private readonly producer: Producer,
    private readonly registry: SchemaRegistry,
    readonly topic: string,
    readonly schemaId: number,
  ) {}

  /**
   * Registers the alert schema for `topic` and returns a publisher using it. Instances that start at
   * the same moment against a registry that has no such subject yet may collide while it is
   * created (Apicurio answers one of them "A rule named 'COMPATIBILITY' already exists"): the
   * registration is tried again before start fails.
   */
  static async create(producer: Producer, registry: SchemaRegistry, topic: string): Promise<AlertPublisher> {
    const schema = readFileSync(ANOMALY_ALERT_SCHEMA, 'utf8');
    for (let attempt = 1; ; attempt += 1) {
      try {
        const { id } = await registry.register({ type: SchemaType.AVRO, schema }, { subject: `${topic}-value` });
        return new AlertPublisher(producer, registry, topic, id);
      } catch (err) {
        if (attempt >= REGISTER_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
  }

  /** Publishes `alerts`, each marked with the silence that covers it (null: none). */
  async publish(alerts: readonly PublishedAlert[]): Promise<void> {
    if (alerts.length === 0) return;
    const now = Date.now();
    const messages = await Promise.all(
      alerts.map(async ({ alert, silencedBy }) => ({
        key: alert.agent,
        value: await this.registry.encode(this.schemaId, toAvro(alert, now, silencedBy)),
        headers: { 'agentwatch-alert-id': alert.alertId, 'agentwatch-alert-state': alert.state },
      })),
    );
    await this.producer.send({ topic: this.topic, acks: -1, messages });
    this.published += alerts.length;
  }

  count(): number {
    return this.published;
  }
}

/** An alert as it is on the anomalies topic: with the silence that covered it when it was published. */
export interface PublishedAlert {
  alert: AnomalyAlert;
  /** The id of the silence that matched at publication (not sent to webhooks or Alertmanager); null: none. */
  silencedBy: string | null;
}

export function toAvro(alert: AnomalyAlert, publishedAt: number, silencedBy: string | null): Record<string, unknown> {
  return {
    alert_id: alert.alertId,
    agent: alert.agent,
    state: alert.state,
    severity: alert.severity,
    onset: alert.onset,
    window_start: alert.windowStart,
    window_end: alert.windowEnd,
    score: alert.score,
    threshold: alert.threshold,
    p_value: alert.pValue,
    features: alert.features.map((f) => ({
      name: f.name,
      value: Number.isNaN(f.value) ? null : f.value,
      baseline_mean: f.baselineMean,
      contribution: f.contribution,
    })),
    published_at: publishedAt,
    capability: alert.capability,
    scope: alert.scope,
    resolution: alert.resolution,
    accepted_by: alert.acceptedBy,
    kind: alert.kind === 'consumer-group' ? 'consumer_group' : alert.kind, // Avro enum symbols have no '-'
    examples: alert.examples.map((e) => ({
      task_id: e.taskId,
      workflow_id: e.workflowId,
      reason: e.reason === 'timed-out' ? 'timed_out' : e.reason, // Avro enum symbols have no '-'
      latency_ms: e.latencyMs === null ? null : Math.round(e.latencyMs),
    })),
    silenced_by: silencedBy,
    detail: alert.detail ?? null,
  };
}

/** The alert of a decoded anomalies-topic record (the inverse of toAvro; fields older versions lack get their defaults). */
export function fromAvro(record: AvroAlert): PublishedAlert & { publishedAt: number } {
  const kind = record.kind === 'consumer_group' ? 'consumer-group' : (record.kind ?? 'incident');
  return {
    alert: {
      alertId: record.alert_id,
      agent: record.agent,
      capability: record.capability ?? record.agent,
      scope: record.scope ?? 'capability',
      kind,
      state: record.state,
      severity: record.severity,
      onset: Number(record.onset),
      windowStart: Number(record.window_start),
      windowEnd: Number(record.window_end),
      score: record.score,
      threshold: record.threshold,
      pValue: record.p_value,
      resolution: record.resolution ?? null,
      acceptedBy: record.accepted_by ?? null,
      features: record.features.map((f) => ({
        name: f.name,
        value: f.value ?? Number.NaN,
        baselineMean: f.baseline_mean,
        z: Number.NaN, // not on the wire
        contribution: f.contribution,
      })),
      examples: (record.examples ?? []).map((e) => ({
        taskId: e.task_id,
        workflowId: e.workflow_id,
        reason: e.reason === 'timed_out' ? 'timed-out' : e.reason,
        latencyMs: e.latency_ms,
      })),
      ...(record.detail == null ? {} : { detail: record.detail }),
    },
    silencedBy: record.silenced_by ?? null,
    publishedAt: Number(record.published_at),
  };
}

/** A record of schemas/anomaly-alert.avsc as avsc decodes it (optional fields may be missing in old versions). */
export interface AvroAlert {
  alert_id: string;
  agent: string;
  state: AnomalyAlert['state'];
  severity: AnomalyAlert['severity'];
  onset: number;
  window_start: number;
  window_end: number;
  score: number;
  threshold: number;
  p_value: number;
  features: Array<{ name: string; value: number | null; baseline_mean: number; contribution: number }>;
  published_at: number;
  capability?: string | null;
  scope?: AnomalyAlert['scope'] | null;
  resolution?: AnomalyAlert['resolution'];
  accepted_by?: string | null;
  kind?: 'incident' | 'drift' | 'consumer_group' | null;
  examples?: Array<{
    task_id: string | null;
    workflow_id: string | null;
    reason: 'timed_out' | 'failed' | 'retried' | 'slow' | 'seen';
    latency_ms: number | null;
  }> | null;
  silenced_by?: string | null;
  detail?: string | null;
}
