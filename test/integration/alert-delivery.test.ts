// Alerts where SREs look, end to end on the real broker, registry and a real Alertmanager (Debian
// package prometheus-alertmanager): two agents' latency spikes fire from a backlog, one of them under
// a silence created through the API beforehand (agentwatch restarted in between, so the silence comes
// from the audit store). Then live traffic recovers both.
// - Alertmanager lists the unsilenced alert with its labels and annotations while it fires, its
//   expiry moves forward with each resend, its receiver is notified FIRING then RESOLVED, and never
//   about the silenced agent.
// - Three webhooks: one checks the HMAC signature, one fails 5 times then accepts (it gets every
//   alert once, in order), one never accepts (dead letters, counted, and ingestion goes on).
// - A live-stream client disconnects after its first alert and resumes with Last-Event-ID: it gets
//   every alert exactly once.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Service } from '../../src/service.js';
import { safeUrl } from '../../src/alert/index.js';
import { seededRandom } from '../../src/sim/index.js';
import {
  connectedProducer,
  createTopics,
  isolatedOverrides,
  runId,
  startService,
  testKafka,
  waitFor,
} from './harness.js';

const run = runId();
const LOUD = `loud-${run}`; // alerts go out
const HUSHED = `hushed-${run}`; // alerts under a silence
const ANOMALIES = `agentwatch-test.anomalies.${run}`;
const WINDOW = 1_000;
const T0 = Date.now() - 3_600_000 - ((Date.now() - 3_600_000) % WINDOW);
const SPIKE_FROM = 40;
const BACKLOG_WINDOWS = 50;
const SECRET = `webhook-secret-${run}`;
const SRE_KEY = `sre-key-${run}-0123456789`;
const kafka = testKafka();

interface Received {
  body: { status: string; alerts: Array<{ status: string; labels: Record<string, string>; endsAt: string }> };
  headers: IncomingMessage['headers'];
  raw: string;
  /** Wall time of receipt. */
  at: number;
}

/** A local HTTP receiver that records every POST and answers with `status(n)` for the n-th (1-based). */
async function receiver(
  status: (n: number) => number,
): Promise<{ server: Server; url: string; got: Received[]; calls: () => number }> {
  const got: Received[] = [];
  let calls = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls += 1;
      const code = status(calls);
      const raw = Buffer.concat(chunks).toString('utf8');
      if (code < 300)
        got.push({ body: JSON.parse(raw) as Received['body'], headers: req.headers, raw, at: Date.now() });
      res.writeHead(code).end(code < 300 ? 'ok' : 'receiver down');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, calls: () => calls };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Requests and answers of `agent` for windows [from, to): 20 tasks a window, slow from SPIKE_FROM until `slowUntil`. */
function traffic(agent: string, from: number, to: number, slowUntil: number) {
  const random = seededRandom(agent.length * 7 + from);
  const requests = [];
  const results = [];
  for (let w = from; w < to; w += 1) {
    for (let r = 0; r < 20; r += 1) {
      const at = T0 + w * WINDOW + Math.floor(random.uniform() * WINDOW);
      const taskId = `${agent}-${w}-${r}`;
      const slow = w >= SPIKE_FROM && w < slowUntil;
      const latency = Math.round((slow ? 2_000 : 100) * Math.exp(0.2 * random.normal()));
      requests.push({
        key: `wf-${agent}`,
        timestamp: String(at),
        value: JSON.stringify({
          workflow_id: `wf-${agent}`,
          task_type: agent,
          task_id: taskId,
          payload: { doc: 'x'.repeat(150) },
        }),
      });
      results.push({
        key: `wf-${agent}`,
        timestamp: String(at + latency),
        value: JSON.stringify({ workflow_id: `wf-${agent}`, task_id: taskId, result: 'y'.repeat(300) }),
      });
    }
  }
  results.sort((a, b) => Number(a.timestamp) - Number(b.timestamp));
  return { requests, results };
}

async function produce(windowsFrom: number, windowsTo: number, slowUntil: number, endAt: number): Promise<void> {
  const producer = await connectedProducer(kafka);
  for (const agent of [LOUD, HUSHED]) {
    const { requests, results } = traffic(agent, windowsFrom, windowsTo, slowUntil);
    // A heartbeat on both topics moves event time past the last window.
    const end = { key: 'hb', timestamp: String(T0 + endAt * WINDOW), value: '{"type":"heartbeat"}' };
    await producer.send({ topic: `agent.tasks.${agent}`, messages: [...requests, end] });
    await producer.send({ topic: `agent.results.${agent}`, messages: [...results, end] });
  }
  await producer.disconnect();
}

interface StreamEvent {
  id: string;
  event: string;
  data: string;
}

/** Reads SSE events from the stream until `stopAfter` returns true; returns them. */
function readStream(
  url: string,
  headers: Record<string, string>,
  stopAfter: (events: StreamEvent[]) => boolean,
  timeoutMs = 120_000,
): Promise<StreamEvent[]> {
  return new Promise((resolve, reject) => {
    const events: StreamEvent[] = [];
    // A stream that never shows what the test waits for fails with what it did show, rather than
    // holding the file until its 10-minute limit.
    const deadline = setTimeout(() => {
      req.destroy();
      reject(new Error(`${url}: not done after ${timeoutMs} ms; got ${JSON.stringify(events)}`));
    }, timeoutMs);
    const req = httpRequest(url, { headers }, (res) => {
      if (res.statusCode !== 200) {
        clearTimeout(deadline);
        reject(new Error(`stream answered ${res.statusCode}`));
        return;
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
          }
          if (fields.event === undefined) continue;
          events.push({ id: fields.id ?? '', event: fields.event, data: fields.data ?? '' });
          if (stopAfter(events)) {
            clearTimeout(deadline);
            req.destroy();
            resolve(events);
            return;
          }
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', (err) => {
      if (!req.destroyed) {
        clearTimeout(deadline);
        reject(err);
      }
    });
    req.end();
  });
}

let alertmanager: ChildProcess | undefined;
let alertmanagerUrl = '';
let service: Service | undefined;
let amReceiver: Awaited<ReturnType<typeof receiver>>;
let signed: Awaited<ReturnType<typeof receiver>>;
let flaky: Awaited<ReturnType<typeof receiver>>;
let down: Awaited<ReturnType<typeof receiver>>;
let overrides: Record<string, string>;
const firstStream: Promise<StreamEvent[]>[] = [];

before(async () => {
  amReceiver = await receiver(() => 200);
  signed = await receiver(() => 200);
  flaky = await receiver((n) => (n <= 5 ? 503 : 200));
  down = await receiver(() => 500);

  const dir = mkdtempSync(join(tmpdir(), `aw-am-${run}-`));
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    [
      'route:',
      '  receiver: hook',
      "  group_by: ['alertname', 'agent']",
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: hook',
      '    webhook_configs:',
      `      - url: ${amReceiver.url}`,
      '        send_resolved: true',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  alertmanagerUrl = `http://127.0.0.1:${port}`;
  alertmanager = spawn(
    'prometheus-alertmanager',
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let amLog = '';
  alertmanager.stderr!.on('data', (chunk: Buffer) => {
    amLog = (amLog + chunk.toString()).slice(-4_000);
  });
  await waitFor(
    `Alertmanager to answer (log: ${amLog})`,
    async () => (await fetch(`${alertmanagerUrl}/-/ready`).catch(() => undefined))?.ok === true,
    30_000,
  );

  for (const agent of [LOUD, HUSHED])
    await createTopics(kafka, [
      { topic: `agent.tasks.${agent}`, numPartitions: 1 },
      { topic: `agent.results.${agent}`, numPartitions: 1 },
    ]);
  overrides = isolatedOverrides(run, {
    INGEST_TOPIC_PATTERN: `^agent\\.[a-z]+\\.[a-z]+-${run}$`,
    ANOMALIES_TOPIC: ANOMALIES,
    DETECT_WINDOW_MS: String(WINDOW),
    DETECT_LATENESS_MS: '0',
    DETECT_WARMUP_WINDOWS: '10',
    API_KEYS: `oncall:sre:${SRE_KEY}`,
    ALERTMANAGER_URLS: alertmanagerUrl,
    // Alertmanager would expire an alert 20 s after a refresh: a RESOLVED that arrives is told apart.
    ALERTMANAGER_RESEND_MS: '5000',
    ALERT_WEBHOOKS: [signed.url, flaky.url, down.url].join(','),
    ALERT_WEBHOOK_SECRET: SECRET,
    ALERT_DELIVERY_MAX_ATTEMPTS: '8',
    ALERT_DELIVERY_BACKOFF_MS: '50',
    ALERT_DELIVERY_MAX_BACKOFF_MS: '200',
  });

  // First run: no traffic yet; an SRE silences the hushed agent for the next hour.
  service = await startService(overrides, []);
  const created = await fetch(`${service.apiUrl}/v1/silences`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SRE_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      matchers: [{ name: 'agent', value: HUSHED }],
      ends_at: new Date(Date.now() + 3_600_000).toISOString(),
      comment: 'planned load test',
    }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  await service.stop();
  service = undefined;

  // The backlog: both agents spike from window 40 to the end of the backlog.
  await produce(0, BACKLOG_WINDOWS, BACKLOG_WINDOWS + 100, BACKLOG_WINDOWS + 1);
  service = await startService(overrides, []);
  // A live-stream client that stops after its first alert.
  firstStream.push(
    readStream(`${service.apiUrl}/v1/alerts/stream`, { authorization: `Bearer ${SRE_KEY}` }, (events) =>
      events.some((e) => e.event === 'alert'),
    ),
  );
});

after(async () => {
  await service?.stop();
  alertmanager?.kill('SIGTERM');
  for (const r of [amReceiver, signed, flaky, down]) r?.server.close();
});

async function amAlerts(): Promise<
  Array<{
    labels: Record<string, string>;
    annotations: Record<string, string>;
    endsAt: string;
    status: { state: string };
  }>
> {
  const response = await fetch(`${alertmanagerUrl}/api/v2/alerts`);
  assert.ok(response.ok);
  return (await response.json()) as Array<{
    labels: Record<string, string>;
    annotations: Record<string, string>;
    endsAt: string;
    status: { state: string };
  }>;
}

test('Alertmanager lists the firing alert with its labels and annotations, refreshed while it lasts, and never the silenced one', async () => {
  await waitFor(
    'the loud alert in Alertmanager',
    async () => (await amAlerts()).some((a) => a.labels.agent === LOUD),
    90_000,
  );
  const listed = (await amAlerts()).find((a) => a.labels.agent === LOUD)!;
  assert.deepEqual(
    { ...listed.labels },
    {
      alertname: 'AgentAnomaly',
      agent: LOUD,
      capability: LOUD,
      severity: listed.labels.severity,
      kind: 'incident',
      scope: 'capability',
      service: 'agentwatch',
    },
  );
  assert.match(listed.labels.severity!, /^(minor|major|critical)$/);
  assert.equal(listed.status.state, 'active');
  assert.match(listed.annotations.summary!, new RegExp(`anomaly of ${LOUD} firing: latency_p(50|95)`));
  assert.match(listed.annotations.description!, /latency_p(50|95) \d+ \(baseline \d+/);
  assert.equal(listed.annotations.timeline_url, `${service!.apiUrl}/v1/workflows/wf-${LOUD}/timeline`);
  assert.equal(listed.annotations.anomaly_url, `${service!.apiUrl}/v1/anomalies?agent=${LOUD}`);
  assert.match(listed.annotations.alert_id!, new RegExp(`^${LOUD}@\\d+$`));
  // Refreshed every 5 s with an expiry 20 s ahead: the expiry moves forward.
  const firstEnd = Date.parse(listed.endsAt);
  await waitFor(
    'a refresh',
    async () => Date.parse((await amAlerts()).find((a) => a.labels.agent === LOUD)!.endsAt) > firstEnd,
    10_000,
  );
  await waitFor('the Alertmanager notification', () => amReceiver.got.some((g) => g.body.status === 'firing'), 30_000);
  // The hushed agent fired too (it is on the topic, marked), but Alertmanager never heard of it.
  const anomalies = await fetch(`${service!.apiUrl}/v1/anomalies?agent=${HUSHED}`, {
    headers: { authorization: `Bearer ${SRE_KEY}` },
  });
  const hushed = ((await anomalies.json()) as { anomalies: Array<{ state: string; silenced_by: string | null }> })
    .anomalies;
  assert.ok(
    hushed.some((a) => a.state === 'FIRING' && a.silenced_by !== null),
    JSON.stringify(hushed),
  );
  assert.deepEqual(
    (await amAlerts()).filter((a) => a.labels.agent === HUSHED),
    [],
  );
});

test('a live-stream client resumes with Last-Event-ID and gets every alert exactly once', async () => {
  const first = await firstStream[0]!;
  const lastId = first.filter((e) => e.event === 'alert').at(-1)!.id;
  assert.match(lastId, /^\d+:\d+$/);
  // The silence ends early (it is no longer listed; the ending is stored with who ended it). The
  // hushed agent's RESOLVED is then published unsilenced, but its FIRING was never sent: no webhook
  // gets it either (test 3).
  const listed = async () =>
    (
      (await (
        await fetch(`${service!.apiUrl}/v1/silences`, { headers: { authorization: `Bearer ${SRE_KEY}` } })
      ).json()) as { silences: Array<{ id: string; matchers: Array<{ value: string }>; created_by: string }> }
    ).silences;
  const silence = (await listed()).find((x) => x.matchers[0]!.value === HUSHED)!;
  assert.equal(silence.created_by, 'oncall');
  const ended = await fetch(`${service!.apiUrl}/v1/silences/${silence.id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${SRE_KEY}` },
  });
  assert.equal(ended.status, 204, await ended.clone().text());
  assert.deepEqual(
    (await listed()).filter((x) => x.id === silence.id),
    [],
  );
  // Recovery, live: both agents back to normal for 30 windows.
  await produce(BACKLOG_WINDOWS + 1, BACKLOG_WINDOWS + 31, 0, BACKLOG_WINDOWS + 32);
  const rest = await readStream(
    `${service!.apiUrl}/v1/alerts/stream`,
    { authorization: `Bearer ${SRE_KEY}`, 'last-event-id': lastId },
    (events) => events.filter((e) => e.event === 'alert').length >= 3,
  );
  const ids = (events: StreamEvent[]) =>
    events
      .filter((e) => e.event === 'alert')
      .map((e) => {
        const alert = JSON.parse(e.data) as { alert_id: string; state: string };
        return `${alert.alert_id}/${alert.state}`;
      });
  const seen = [...ids(first), ...ids(rest)];
  assert.equal(new Set(seen).size, seen.length, `no alert twice: ${seen.join(' ')}`);
  assert.equal(seen.length, 4, `both agents' FIRING and RESOLVED: ${seen.join(' ')}`);
  for (const agent of [LOUD, HUSHED]) {
    const states = seen.filter((s) => s.startsWith(`${agent}@`)).map((s) => s.split('/')[1]);
    assert.deepEqual(states, ['FIRING', 'RESOLVED'], agent);
  }
  assert.equal(rest.filter((e) => e.event === 'gap').length, 0);

  // Filtered from the start of the topic: only the loud agent's alerts, and ids that still move
  // past the others (an id-only event), so the last id is the end of the topic.
  const filtered = await readStream(
    `${service!.apiUrl}/v1/alerts/stream?agent=${LOUD}`,
    { authorization: `Bearer ${SRE_KEY}`, 'last-event-id': '0:0' },
    (events) => events.filter((e) => e.event === 'alert').length >= 2,
  );
  assert.deepEqual(
    ids(filtered).map((s) => s.split('@')[0]),
    [LOUD, LOUD],
  );
  assert.equal(ids(filtered).length, 2);
  const bad = await fetch(`${service!.apiUrl}/v1/alerts/stream`, {
    headers: { authorization: `Bearer ${SRE_KEY}`, 'last-event-id': 'not-a-position' },
  });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'AW_API_BAD_REQUEST');
});

test('webhooks: signed, retried in order through 5 failures, and dead letters for one that never accepts', async () => {
  const expected = ['firing', 'resolved'];
  await waitFor('both alerts at the signed webhook', () => signed.got.length >= 2, 60_000);
  await waitFor('both alerts at the flaky webhook', () => flaky.got.length >= 2, 60_000);
  for (const hook of [signed, flaky]) {
    // Only the loud agent: the hushed one is silenced.
    assert.deepEqual(
      hook.got.map((g) => `${g.body.alerts[0]!.labels.agent}/${g.body.status}`),
      expected.map((s) => `${LOUD}/${s}`),
    );
  }
  assert.equal(flaky.calls(), 5 + 2, 'five refusals, then each alert once');
  for (const g of signed.got) {
    const timestamp = String(g.headers['x-agentwatch-timestamp']);
    const expectedSignature = `v1=${createHmac('sha256', SECRET).update(`${timestamp}.${g.raw}`).digest('hex')}`;
    assert.equal(g.headers['x-agentwatch-signature'], expectedSignature);
    assert.equal(g.body.alerts.length, 1);
  }
  // A wrong secret gives another signature: the check can fail.
  const g = signed.got[0]!;
  assert.notEqual(
    `v1=${createHmac('sha256', 'wrong')
      .update(`${String(g.headers['x-agentwatch-timestamp'])}.${g.raw}`)
      .digest('hex')}`,
    g.headers['x-agentwatch-signature'],
  );

  await waitFor(
    'two dead letters',
    async () => {
      const response = await fetch(`${service!.apiUrl}/v1/alerts/dead-letters`, {
        headers: { authorization: `Bearer ${SRE_KEY}` },
      });
      return ((await response.json()) as { dead_letters: unknown[] }).dead_letters.length >= 2;
    },
    60_000,
  );
  const letters = (
    (await (
      await fetch(`${service!.apiUrl}/v1/alerts/dead-letters`, { headers: { authorization: `Bearer ${SRE_KEY}` } })
    ).json()) as {
      dead_letters: Array<{
        destination: string;
        alert_id: string;
        state: string;
        attempts: number;
        last_error: string;
      }>;
    }
  ).dead_letters;
  assert.deepEqual(letters.map((l) => l.state).sort(), ['FIRING', 'RESOLVED']);
  for (const letter of letters) {
    assert.equal(letter.destination, `webhook ${safeUrl(down.url)}`);
    assert.equal(letter.attempts, 8);
    assert.match(letter.last_error, /HTTP 500/);
  }
  assert.equal(down.calls(), 16, '8 attempts per alert');
  const metrics = await (
    await fetch(`${service!.apiUrl}/metrics`, { headers: { authorization: `Bearer ${SRE_KEY}` } })
  ).text();
  assert.match(
    metrics,
    new RegExp(
      `agentwatch_alert_dead_letters_total\\{destination="webhook ${safeUrl(down.url).replace(/[/.*+?^$()|[\]\\]/g, '\\$&')}"\\} 2`,
    ),
  );
  // Ingestion went on meanwhile: every record of both agents was read.
  const produced = 2 * (2 * 20 * (BACKLOG_WINDOWS + 30) + 2 * 2);
  assert.equal(service!.stats().pipeline.events, produced, JSON.stringify(service!.stats().pipeline));
});

test('Alertmanager hears the RESOLVED alert and notifies its receiver; an SRE acknowledges the alert', async () => {
  await waitFor('the resolved notification', () => amReceiver.got.some((g) => g.body.status === 'resolved'), 60_000);
  // Resolved by agentwatch's RESOLVED (same labels as the FIRING), not by expiry: it ended when
  // agentwatch sent it, well before the 20 s expiry of the last refresh.
  const resolvedAt = signed.got.find((g) => g.body.status === 'resolved')!.at;
  const amResolved = amReceiver.got.find((g) => g.body.status === 'resolved')!;
  const endsAt = Date.parse(amResolved.body.alerts[0]!.endsAt);
  assert.ok(
    Math.abs(endsAt - resolvedAt) < 3_000,
    `ended at ${new Date(endsAt).toISOString()}, RESOLVED sent about ${new Date(resolvedAt).toISOString()}`,
  );
  const agents = amReceiver.got.flatMap((g) => g.body.alerts.map((a) => a.labels.agent));
  assert.ok(
    agents.every((a) => a === LOUD),
    `Alertmanager never notified about the silenced agent: ${agents.join(',')}`,
  );

  const anomalies = (
    (await (
      await fetch(`${service!.apiUrl}/v1/anomalies?agent=${LOUD}&state=FIRING`, {
        headers: { authorization: `Bearer ${SRE_KEY}` },
      })
    ).json()) as {
      anomalies: Array<{ alert_id: string }>;
    }
  ).anomalies;
  const id = anomalies[0]!.alert_id;
  const ack = await fetch(`${service!.apiUrl}/v1/anomalies/${encodeURIComponent(id)}/ack`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SRE_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ comment: 'looking' }),
  });
  assert.equal(ack.status, 201, await ack.clone().text());
  const after = (
    (await (
      await fetch(`${service!.apiUrl}/v1/anomalies?agent=${LOUD}&state=FIRING`, {
        headers: { authorization: `Bearer ${SRE_KEY}` },
      })
    ).json()) as {
      anomalies: Array<{ alert_id: string; acks: Array<{ by: string; comment: string }> }>;
    }
  ).anomalies;
  assert.deepEqual(
    after.find((a) => a.alert_id === id)!.acks.map((k) => [k.by, k.comment]),
    [['oncall', 'looking']],
  );
  const missing = await fetch(`${service!.apiUrl}/v1/anomalies/no-such-alert/ack`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SRE_KEY}` },
  });
  assert.equal(missing.status, 404);
});
