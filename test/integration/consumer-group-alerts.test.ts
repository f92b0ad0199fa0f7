// The agents' consumer groups through the running service: a worker group that stops committing is
// STALLED in /metrics and paged through the same delivery as detection's alerts (here a webhook)
// within 2 evaluation intervals; when its members leave it is STOPPED, still paged as one alert, and
// its lag in seconds keeps growing. agentwatch's own group on the same topic is never reported.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Consumer, Producer } from 'kafkajs';
import type { Service } from '../../src/service.js';
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
const kafka = testKafka();
const topic = `agent.tasks.cgalert-${run}`;
const workersGroup = `cgalert-workers-${run}`;
const INTERVAL_MS = 1_000;
const SRE_KEY = `sre-key-${run}-0123456789`;

interface Hook {
  status: string;
  alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string> }>;
}

let hookServer: Server;
const hooks: Hook[] = [];
let producer: Producer;
let producing: Promise<void> | undefined;
let stopProducing = false;
let workers: Consumer | undefined;
let stalled = false;
let service: Service | undefined;

before(async () => {
  hookServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Hook);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
  await createTopics(kafka, [{ topic, numPartitions: 2 }]);
  producer = await connectedProducer(kafka);
  producing = (async () => {
    for (let i = 0; !stopProducing; i += 1) {
      await producer.send({
        topic,
        messages: [
          {
            key: `wf-${i}`,
            value: JSON.stringify({ workflow_id: `wf-${i}`, task_type: 'cgalert', task_id: `t-${i}` }),
          },
        ],
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const w = kafka.consumer({ groupId: workersGroup, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  workers = w;
  await w.connect();
  await w.subscribe({ topics: [topic], fromBeginning: true });
  await w.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (stalled) return;
      await w.commitOffsets([{ topic, partition, offset: String(BigInt(message.offset) + 1n) }]);
    },
  });
  service = await startService(
    isolatedOverrides(run, {
      ANOMALIES_TOPIC: `agentwatch-test.anomalies.${run}`,
      GROUP_WATCH_INTERVAL_MS: String(INTERVAL_MS),
      API_KEYS: `oncall:sre:${SRE_KEY}`,
      ALERT_WEBHOOKS: `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`,
    }),
    [],
  );
});

after(async () => {
  await service?.stop();
  stopProducing = true;
  await producing;
  await workers?.disconnect();
  await producer.disconnect();
  hookServer.close();
});

async function metrics(): Promise<string> {
  const response = await fetch(`${service!.apiUrl}/metrics`, { headers: { authorization: `Bearer ${SRE_KEY}` } });
  return response.text();
}

function gauge(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

test('a stalled, then stopped, worker group is in /metrics and paged through the webhook', async () => {
  const group = `group="${workersGroup}"`;
  await waitFor(
    'the workers OK in /metrics',
    async () => gauge(await metrics(), 'agentwatch_consumer_group_status', `${group},status="OK"`) === 1,
    20_000,
  );
  const ownGroup = /agentwatch_consumer_group_status\{group="agentwatch-test-/.test(await metrics());
  assert.equal(ownGroup, false, "agentwatch's own group is not an agents' group");

  stalled = true;
  const stalledAt = Date.now();
  await waitFor(
    'STALLED in /metrics',
    async () => gauge(await metrics(), 'agentwatch_consumer_group_status', `${group},status="STALLED"`) === 1,
    10_000,
  );
  // Within 2 intervals (plus one for a pass under way when commits stopped, and scrape slack).
  assert.ok(Date.now() - stalledAt <= 4 * INTERVAL_MS, `STALLED after ${Date.now() - stalledAt} ms`);
  await waitFor('the STALLED page', () => hooks.some((h) => h.alerts[0]?.labels.agent === workersGroup), 10_000);
  const page = hooks.find((h) => h.alerts[0]?.labels.agent === workersGroup)!;
  assert.equal(page.status, 'firing');
  assert.equal(page.alerts[0]!.labels.alertname, 'ConsumerGroupUnhealthy');
  assert.equal(page.alerts[0]!.labels.capability, `cgalert-${run}`);
  assert.match(page.alerts[0]!.annotations.summary!, new RegExp(`consumer group ${workersGroup} is STALLED: `));

  await workers!.disconnect();
  workers = undefined;
  await waitFor(
    'STOPPED in /metrics',
    async () => gauge(await metrics(), 'agentwatch_consumer_group_status', `${group},status="STOPPED"`) === 1,
    10_000,
  );
  await waitFor(
    'the STOPPED page',
    () => hooks.some((h) => /is STOPPED/.test(h.alerts[0]?.annotations.summary ?? '')),
    10_000,
  );
  const ids = new Set(
    hooks.filter((h) => h.alerts[0]?.labels.agent === workersGroup).map((h) => h.alerts[0]!.annotations.alert_id),
  );
  assert.equal(ids.size, 1, 'STALLED then STOPPED is one alert');
  const first = gauge(await metrics(), 'agentwatch_consumer_group_lag_seconds', group)!;
  await new Promise((resolve) => setTimeout(resolve, 2.5 * INTERVAL_MS));
  const later = gauge(await metrics(), 'agentwatch_consumer_group_lag_seconds', group)!;
  assert.ok(later >= first + 1.5, `lag in seconds grows while stopped: ${first} → ${later}`);
  assert.ok(gauge(await metrics(), 'agentwatch_consumer_group_lag_records', group)! > 0);

  const groups = (await (
    await fetch(`${service!.apiUrl}/v1/consumer-groups`, { headers: { authorization: `Bearer ${SRE_KEY}` } })
  ).json()) as {
    groups: Array<{ group: string; status: string; members: number }>;
  };
  assert.deepEqual(
    groups.groups.filter((g) => g.group === workersGroup).map((g) => [g.status, g.members]),
    [['STOPPED', 0]],
  );
});
