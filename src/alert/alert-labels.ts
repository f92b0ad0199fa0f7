// How an alert looks to the tools SREs already use: its labels (what silences and routes match),
// its annotations (what a human reads), and the Alertmanager v2 API and webhook v4 shapes built
// from them. Pure: wall time and the API's base URL come in as arguments.

import { createHash } from 'node:crypto';
import type { AnomalyAlert } from '../detect/index.js';

export type AlertLabels = Readonly<Record<string, string>>;

/** The alert's name in Alertmanager, per kind. */
const ALERT_NAMES: Record<AnomalyAlert['kind'], string> = {
  incident: 'AgentAnomaly',
  drift: 'AgentDrift',
  'consumer-group': 'ConsumerGroupUnhealthy',
};

/**
 * The label set: one alert of one agent (and kind) at a time, as Alertmanager identifies alerts by
 * their labels. The alert id is an annotation, so a new incident of the same agent is the same
 * Alertmanager alert firing again, as with Prometheus rules.
 */
export function alertLabels(alert: AnomalyAlert): AlertLabels {
  return {
    alertname: ALERT_NAMES[alert.kind],
    agent: alert.agent,
    capability: alert.capability,
    severity: alert.severity,
    kind: alert.kind,
    scope: alert.scope,
    service: 'agentwatch',
  };
}

/** Links of an alert into the API: the agent's anomalies, and the timeline of an example workflow. */
export function alertLinks(alert: AnomalyAlert, apiUrl: string): { anomalies: string; timeline: string | undefined } {
  const workflow = alert.examples.find((e) => e.workflowId !== null)?.workflowId ?? undefined;
  return {
    anomalies: `${apiUrl}/v1/anomalies?agent=${encodeURIComponent(alert.agent)}`,
    timeline: workflow === undefined ? undefined : `${apiUrl}/v1/workflows/${encodeURIComponent(workflow)}/timeline`,
  };
}

/** Most features named in the description. */
const TOP_FEATURES = 3;

export function alertAnnotations(alert: AnomalyAlert, apiUrl: string): Record<string, string> {
  const links = alertLinks(alert, apiUrl);
  const top = alert.features.slice(0, TOP_FEATURES);
  const what = alert.kind === 'consumer-group' ? 'consumer group' : alert.kind === 'drift' ? 'drift' : 'anomaly';
  const verb = alert.state === 'FIRING' ? 'is' : 'was';
  const summary =
    alert.kind === 'consumer-group'
      ? `${what} ${alert.agent} ${verb} ${alert.state === 'FIRING' ? (alert.detail ?? 'unhealthy') : 'healthy again'}`
      : `${what} of ${alert.agent} ${alert.state === 'FIRING' ? 'firing' : `resolved (${alert.resolution ?? 'recovered'})`}: ${top.map((f) => f.name).join(', ')} off the baseline`;
  const annotations: Record<string, string> = {
    summary,
    description: top.map(describeFeature).join('; '),
    alert_id: alert.alertId,
    score: `${round(alert.score)} (threshold ${round(alert.threshold)})`,
    anomaly_url: links.anomalies,
  };
  if (links.timeline !== undefined) annotations.timeline_url = links.timeline;
  if (alert.examples.length > 0) {
    annotations.examples = alert.examples
      .map(
        (e) =>
          `${e.taskId ?? '(no task id)'} in ${e.workflowId ?? '(no workflow)'}: ${e.reason}${e.latencyMs === null ? '' : `, ${Math.round(e.latencyMs)} ms`}`,
      )
      .join('; ');
  }
  if (alert.acceptedBy !== null) annotations.accepted_by = alert.acceptedBy;
  return annotations;
}

function describeFeature(f: AnomalyAlert['features'][number]): string {
  return `${f.name} ${Number.isNaN(f.value) ? 'no data' : round(f.value)} (baseline ${round(f.baselineMean)})`;
}

function round(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

/** One alert of Alertmanager's v2 API (POST /api/v2/alerts takes an array of them). */
export interface AlertmanagerAlert {
  labels: AlertLabels;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

/**
 * FIRING: ends `expiresInMs` after `now` unless sent again (Prometheus sends 4× its resend delay), so
 * Alertmanager resolves it by itself if agentwatch stops. RESOLVED: ended now. Times are wall times,
 * and startsAt never lies after them (an accelerated simulation's event time can run ahead of the wall).
 */
export function toAlertmanagerAlert(
  alert: AnomalyAlert,
  options: { apiUrl: string; now: number; expiresInMs: number },
): AlertmanagerAlert {
  const startsAt = Math.min(alert.onset, options.now);
  const endsAt = alert.state === 'FIRING' ? options.now + options.expiresInMs : options.now;
  return {
    labels: alertLabels(alert),
    annotations: alertAnnotations(alert, options.apiUrl),
    startsAt: new Date(startsAt).toISOString(),
    endsAt: new Date(Math.max(endsAt, startsAt)).toISOString(),
    generatorURL: alertLinks(alert, options.apiUrl).anomalies,
  };
}

/** Alertmanager's webhook body (version 4), so receivers written for Alertmanager take agentwatch's too. */
export interface WebhookBody {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: AlertLabels;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: Array<{
    status: 'firing' | 'resolved';
    labels: AlertLabels;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    generatorURL: string;
    fingerprint: string;
  }>;
}

/** Alertmanager's "zero" end time of an alert that has not ended. */
const NOT_ENDED = '0001-01-01T00:00:00Z';

/** One alert per body, so each is delivered, retried and dead-lettered on its own, in order. */
export function toWebhookBody(alert: AnomalyAlert, options: { apiUrl: string; now: number }): WebhookBody {
  const labels = alertLabels(alert);
  const annotations = alertAnnotations(alert, options.apiUrl);
  const status = alert.state === 'FIRING' ? 'firing' : 'resolved';
  const groupLabels = { agent: alert.agent, alertname: labels.alertname! };
  const startsAt = new Date(Math.min(alert.onset, options.now)).toISOString();
  return {
    version: '4',
    groupKey: `{}:{agent=${JSON.stringify(alert.agent)}, alertname=${JSON.stringify(labels.alertname)}}`,
    truncatedAlerts: 0,
    status,
    receiver: 'agentwatch',
    groupLabels,
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: options.apiUrl,
    alerts: [
      {
        status,
        labels,
        annotations,
        startsAt,
        endsAt: status === 'firing' ? NOT_ENDED : new Date(options.now).toISOString(),
        generatorURL: alertLinks(alert, options.apiUrl).anomalies,
        fingerprint: fingerprintOf(labels),
      },
    ],
  };
}

/** A stable 16-hex-digit id of a label set (the role of Alertmanager's fingerprint). */
export function fingerprintOf(labels: AlertLabels): string {
  const text = Object.keys(labels)
    .sort()
    .map((name) => `${name}\u0000${labels[name]}`)
    .join('\u0001');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
