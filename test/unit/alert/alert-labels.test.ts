import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  alertLabels,
  fingerprintOf,
  fromAvro,
  toAlertmanagerAlert,
  toAvro,
  toWebhookBody,
} from '../../../src/alert/index.js';
import type { AnomalyAlert } from '../../../src/detect/index.js';

const API = 'https://aw.example.com';

function alert(overrides: Partial<AnomalyAlert> = {}): AnomalyAlert {
  return {
    alertId: 'summarize@1000',
    agent: 'summarize',
    capability: 'summarize',
    scope: 'capability',
    kind: 'incident',
    state: 'FIRING',
    severity: 'major',
    onset: 1_000,
    windowStart: 1_000,
    windowEnd: 61_000,
    score: 42.5,
    threshold: 18.4,
    pValue: 1e-6,
    resolution: null,
    acceptedBy: null,
    features: [
      { name: 'latency_p95', value: 2_012, baselineMean: 480, z: 6, contribution: 40 },
      { name: 'failure_rate', value: Number.NaN, baselineMean: 0.01, z: Number.NaN, contribution: 0 },
    ],
    examples: [
      { taskId: 't-1', workflowId: null, reason: 'timed-out', latencyMs: null },
      { taskId: 't-2', workflowId: 'wf/7', reason: 'slow', latencyMs: 2_500.4 },
    ],
    ...overrides,
  };
}

test('labels identify one alert per agent and kind, the way Alertmanager routes and silences', () => {
  assert.deepEqual(alertLabels(alert()), {
    alertname: 'AgentAnomaly',
    agent: 'summarize',
    capability: 'summarize',
    severity: 'major',
    kind: 'incident',
    scope: 'capability',
    service: 'agentwatch',
  });
  assert.equal(alertLabels(alert({ kind: 'drift' })).alertname, 'AgentDrift');
  assert.equal(alertLabels(alert({ kind: 'consumer-group' })).alertname, 'ConsumerGroupUnhealthy');
});

test('an Alertmanager alert carries features, examples and links, and expires unless sent again', () => {
  const now = 10_000_000;
  const am = toAlertmanagerAlert(alert(), { apiUrl: API, now, expiresInMs: 240_000 });
  assert.equal(am.startsAt, new Date(1_000).toISOString());
  assert.equal(am.endsAt, new Date(now + 240_000).toISOString());
  assert.equal(am.generatorURL, `${API}/v1/anomalies?agent=summarize`);
  assert.equal(am.annotations.timeline_url, `${API}/v1/workflows/wf%2F7/timeline`, 'the first example with a workflow');
  assert.equal(am.annotations.alert_id, 'summarize@1000');
  assert.match(am.annotations.summary!, /^anomaly of summarize firing: latency_p95, failure_rate off the baseline$/);
  assert.equal(am.annotations.description, 'latency_p95 2012 (baseline 480); failure_rate no data (baseline 0.0100)');
  assert.match(am.annotations.examples!, /^t-1 in \(no workflow\): timed-out; t-2 in wf\/7: slow, 2500 ms$/);
  const resolved = toAlertmanagerAlert(alert({ state: 'RESOLVED', resolution: 'recovered' }), {
    apiUrl: API,
    now,
    expiresInMs: 240_000,
  });
  assert.equal(resolved.endsAt, new Date(now).toISOString(), 'a RESOLVED alert ends now');
});

test('an onset ahead of the wall clock (accelerated event time) never starts after the alert ends', () => {
  const now = 5_000;
  const am = toAlertmanagerAlert(alert({ state: 'RESOLVED', onset: 9_000 }), { apiUrl: API, now, expiresInMs: 1 });
  assert.ok(Date.parse(am.startsAt) <= Date.parse(am.endsAt));
  assert.equal(am.startsAt, new Date(now).toISOString());
});

test('a webhook body is Alertmanager webhook v4 with one alert', () => {
  const body = toWebhookBody(alert(), { apiUrl: API, now: 2_000 });
  assert.equal(body.version, '4');
  assert.equal(body.status, 'firing');
  assert.equal(body.alerts.length, 1);
  assert.equal(body.alerts[0]!.endsAt, '0001-01-01T00:00:00Z', 'not ended');
  assert.deepEqual(body.groupLabels, { agent: 'summarize', alertname: 'AgentAnomaly' });
  assert.equal(body.externalURL, API);
  assert.deepEqual(body.commonLabels, alertLabels(alert()));
  const resolved = toWebhookBody(alert({ state: 'RESOLVED' }), { apiUrl: API, now: 2_000 });
  assert.equal(resolved.status, 'resolved');
  assert.equal(resolved.alerts[0]!.endsAt, new Date(2_000).toISOString());
  assert.equal(resolved.alerts[0]!.fingerprint, body.alerts[0]!.fingerprint, 'the same alert');
});

test('the fingerprint depends on the label set only, not on its order', () => {
  assert.equal(fingerprintOf({ a: '1', b: '2' }), fingerprintOf({ b: '2', a: '1' }));
  assert.notEqual(fingerprintOf({ a: '1', b: '2' }), fingerprintOf({ a: '1', b: '3' }));
  assert.notEqual(fingerprintOf({ a: '1\u00002' }), fingerprintOf({ a: '1', '2': '' }));
  assert.match(fingerprintOf({ a: '1' }), /^[0-9a-f]{16}$/);
});

test('an alert read back from the anomalies topic is the alert published, with its silence', () => {
  const original = alert({ kind: 'consumer-group', detail: 'STALLED: no commit for 60 s' });
  const back = fromAvro(toAvro(original, 123, 'silence-1') as never);
  assert.equal(back.silencedBy, 'silence-1');
  assert.equal(back.publishedAt, 123);
  assert.equal(back.alert.kind, 'consumer-group');
  assert.equal(back.alert.detail, 'STALLED: no commit for 60 s');
  assert.deepEqual(
    back.alert.examples.map((e) => [e.reason, e.latencyMs]),
    [
      ['timed-out', null],
      ['slow', 2_500],
    ],
  );
  assert.ok(Number.isNaN(back.alert.features[1]!.value), 'no data stays no data');
  assert.deepEqual({ ...back.alert, features: [], examples: [] }, { ...original, features: [], examples: [] });
});
