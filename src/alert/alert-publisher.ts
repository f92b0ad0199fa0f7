// Publishes alerts to the anomalies topic as Avro (schemas/anomaly-alert.avsc, registered under
// <topic>-value at start), keyed by agent, acknowledged by all in-sync replicas.

import { readFileSync } from 'node:fs';
import { SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Producer } from 'kafkajs';
import type { AnomalyAlert } from '../detect/index.js';

export const ANOMALY_ALERT_SCHEMA = new URL('../../../schemas/anomaly-alert.avsc', import.meta.url);

export class AlertPublisher {
  private published = 0;

  private constructor(
    private readonly producer: Producer,
    private readonly registry: SchemaRegistry,
    readonly topic: string,
    readonly schemaId: number,
  ) {}

  /** Registers the alert schema for `topic` and returns a publisher using it. */
  static async create(producer: Producer, registry: SchemaRegistry, topic: string): Promise<AlertPublisher> {
    const schema = readFileSync(ANOMALY_ALERT_SCHEMA, 'utf8');
    const { id } = await registry.register({ type: SchemaType.AVRO, schema }, { subject: `${topic}-value` });
    return new AlertPublisher(producer, registry, topic, id);
  }

  async publish(alerts: readonly AnomalyAlert[]): Promise<void> {
    if (alerts.length === 0) return;
    const now = Date.now();
    const messages = await Promise.all(
      alerts.map(async (alert) => ({
        key: alert.agent,
        value: await this.registry.encode(this.schemaId, toAvro(alert, now)),
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

export function toAvro(alert: AnomalyAlert, publishedAt: number): Record<string, unknown> {
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
    kind: alert.kind,
    examples: alert.examples.map((e) => ({
      task_id: e.taskId,
      workflow_id: e.workflowId,
      reason: e.reason === 'timed-out' ? 'timed_out' : e.reason, // Avro enum symbols have no '-'
      latency_ms: e.latencyMs === null ? null : Math.round(e.latencyMs),
    })),
  };
}
