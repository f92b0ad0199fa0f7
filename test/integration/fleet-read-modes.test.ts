// One heterogeneous fleet (test/fixtures/realistic-fleet.ts: Poisson arrivals, agents of different
// rates, latencies and sizes, several workers, retries) put on the real broker three ways and read
// by agentwatch with its defaults:
// 1. a backlog: 30 minutes of traffic already on the topics when agentwatch starts;
// 2. live at 60× real time (event time declared with EVENT_TIME_SPEED and EVENT_TIME_ANCHOR);
// 3. live at 1×, over a shorter span (the first 60 s).
// Two gross faults sit in the 30 minutes. Backlog and 60× must raise the same alerts (the faulty
// capabilities, nothing else); in every mode late events stay under 1 %, timeouts equal the truth's
// (within 1 %), fire in deadline order, and no task is left in flight that should have timed out.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { AnomalyAlert } from '../../src/detect/index.js';
import type { Service } from '../../src/service.js';
import {
  fleetRecord,
  type FleetRecord,
  fleetProfiles,
  generateFleet,
  type FleetFault,
  type FleetRun,
} from '../../src/sim/index.js';
import {
  CollectingSink,
  connectedProducer,
  createTopics,
  isolatedOverrides,
  runId,
  startService,
  testKafka,
  waitFor,
} from './harness.js';

const kafka = testKafka();
const SEED = 11;
const CAPABILITIES = 4;
const TTL_MS = 20_000;
const W = 10_000;
const services: Service[] = [];

after(async () => {
  for (const service of services) await service.stop();
});

const profiles = fleetProfiles(SEED, CAPABILITIES, [1, 3]);
const FAULTS: FleetFault[] = [
  { kind: 'payload-x6', capability: profiles[0]!.capability, startMs: 15 * 60_000, durationMs: 8 * 60_000 },
  { kind: 'latency-x4', capability: profiles[2]!.capability, startMs: 18 * 60_000, durationMs: 8 * 60_000 },
];
/** cap-03-rank → rank: the capability part of the fleet's names, for topics the test pattern matches. */
const word = (capability: string) => capability.replace(/^cap-\d+-/, '');

interface ModeResult {
  alerts: AnomalyAlert[];
  records: number;
  lateEvents: number;
  timeouts: number;
  timeoutsInOrder: boolean;
  inFlight: number;
}

function fleet(start: number, durationMs: number, faults: FleetFault[]): FleetRun {
  return generateFleet({
    seed: SEED,
    start: Math.floor(start / W) * W,
    durationMs,
    capabilities: CAPABILITIES,
    taskTtlMs: TTL_MS,
    faults,
  });
}

async function topicsFor(run: FleetRun, topicOf: (topic: string) => string): Promise<void> {
  const topics = [...new Set(run.events.map((e) => e.topic))].map((topic) => ({
    topic: topicOf(topic),
    numPartitions: 3,
  }));
  await createTopics(kafka, topics);
}

async function produce(records: readonly FleetRecord[]): Promise<void> {
  const producer = await connectedProducer(kafka);
  try {
    for (let from = 0; from < records.length; from += 2_000) await send(producer, records.slice(from, from + 2_000));
  } finally {
    await producer.disconnect();
  }
}

async function send(
  producer: Awaited<ReturnType<typeof connectedProducer>>,
  records: readonly FleetRecord[],
): Promise<void> {
  const byTopic = new Map<string, FleetRecord['message'][]>();
  for (const r of records) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ ...r.message, partition: r.partition });
    byTopic.set(r.topic, list);
  }
  await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
}

/** Produces records when their event time comes, `speed` times faster than the wall clock, from wall time `wallStart`. */
async function produceLive(
  records: readonly FleetRecord[],
  eventStart: number,
  wallStart: number,
  speed: number,
): Promise<void> {
  const producer = await connectedProducer(kafka);
  try {
    let next = 0;
    while (next < records.length) {
      const due = eventStart + (Date.now() - wallStart) * speed;
      let end = next;
      while (end < records.length && Number(records[end]!.message.timestamp) <= due) end += 1;
      if (end > next) await send(producer, records.slice(next, end));
      next = end;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await producer.disconnect();
  }
}

async function observe(
  service: Service,
  sink: CollectingSink,
  run: FleetRun,
  alerts: AnomalyAlert[],
): Promise<ModeResult> {
  const records = run.events.length;
  await waitFor('every record read', () => sink.events.length >= records, 180_000);
  // The clock runs on after the traffic: every task times out or is answered, every window closes.
  await waitFor('no task in flight', () => service.stats().correlator.inFlight === 0, 120_000);
  // Reading the last record is not the end of detection: the windows before the traffic's end close
  // as the clock passes them, and their alerts reach subscribers once published (a CI run's backlog
  // mode counted no alerts at all, taken the moment the last record was read).
  const lastWindow = Math.floor((run.end - 1) / W) * W;
  await waitFor(
    'every window of the traffic scored, its alerts delivered',
    () => service.detectedThrough() >= lastWindow,
    120_000,
  );
  const stats = service.stats();
  let timeoutsInOrder = true;
  for (let i = 1; i < sink.timeouts.length; i += 1)
    if (sink.timeouts[i]!.expiredAt < sink.timeouts[i - 1]!.expiredAt) timeoutsInOrder = false;
  return {
    alerts: alerts.filter((a) => a.windowStart < run.end), // the silence after the traffic is news too, but not this test's
    records,
    lateEvents: stats.detector.lateEvents,
    timeouts: stats.correlator.timeouts,
    timeoutsInOrder,
    inFlight: stats.correlator.inFlight,
  };
}

async function runMode(mode: 'backlog' | 'live-60x' | 'live-1x'): Promise<{ result: ModeResult; run: FleetRun }> {
  const run = runId();
  const topicOf = (topic: string) => `${topic.replace(/cap-\d+-/, '')}-${run}`;
  const durationMs = mode === 'live-1x' ? 60_000 : 30 * 60_000;
  const speed = mode === 'live-60x' ? 60 : 1;
  // Backlog: the traffic ended just now. Live: it starts now (60×: its event time starts 30 min ago
  // and catches up with the wall clock as it ends, as an accelerated simulation declares).
  const wallStart = Date.now() + 5_000;
  const eventStart =
    mode === 'backlog' ? wallStart - 5_000 - durationMs : mode === 'live-60x' ? wallStart - durationMs : wallStart;
  const traffic = fleet(eventStart, durationMs, mode === 'live-1x' ? [] : FAULTS);
  const records = traffic.events.map((e) => fleetRecord(e, topicOf));
  await topicsFor(traffic, topicOf);
  if (mode === 'backlog') await produce(records);
  const sink = new CollectingSink();
  const declared: Record<string, string> =
    mode === 'live-60x' ? { EVENT_TIME_SPEED: '60', EVENT_TIME_ANCHOR: `${traffic.start}@${wallStart}` } : {};
  const service = await startService(isolatedOverrides(run, { CORRELATE_TASK_TTL_MS: String(TTL_MS), ...declared }), [
    sink,
  ]);
  services.push(service);
  const alerts: AnomalyAlert[] = [];
  service.alerts.subscribe((alert) => alerts.push(alert));
  if (mode !== 'backlog') await produceLive(records, traffic.start, wallStart, speed);
  const result = await observe(service, sink, traffic, alerts);
  await service.stop();
  services.splice(services.indexOf(service), 1);
  const firing = result.alerts.filter((a) => a.state === 'FIRING').map((a) => `${a.agent} ${a.features[0]!.name}`);
  process.stdout.write(
    `# ${mode}: ${result.records} records, late ${result.lateEvents}, timeouts ${result.timeouts} (truth ${traffic.expectedTimeouts}), in flight ${result.inFlight}, firing: ${firing.join('; ') || 'none'}\n`,
  );
  return { result, run: traffic };
}

function checkClock(mode: string, result: ModeResult, run: FleetRun): void {
  assert.ok(
    result.lateEvents < 0.01 * result.records,
    `${mode}: ${result.lateEvents} late events of ${result.records}`,
  );
  assert.ok(
    Math.abs(result.timeouts - run.expectedTimeouts) <= Math.max(1, 0.01 * run.expectedTimeouts),
    `${mode}: ${result.timeouts} timeouts, the truth has ${run.expectedTimeouts}`,
  );
  assert.ok(result.timeoutsInOrder, `${mode}: timeouts out of deadline order`);
  assert.equal(result.inFlight, 0, `${mode}: tasks left in flight`);
}

/** The capabilities that alerted (a worker's alert counts for its capability), sorted. */
function alerted(result: ModeResult): string[] {
  return [
    ...new Set(result.alerts.filter((a) => a.state === 'FIRING').map((a) => word(a.capability).replace(/-[^-]+$/, ''))),
  ].sort();
}

test('the same fleet from a backlog, live at 60× and live at 1×: the same alerts, no late events, timeouts as in the truth', async () => {
  const backlog = await runMode('backlog');
  const live = await runMode('live-60x');
  const slow = await runMode('live-1x');

  checkClock('backlog', backlog.result, backlog.run);
  checkClock('live 60×', live.result, live.run);
  checkClock('live 1×', slow.result, slow.run);

  const faulty = FAULTS.map((f) => word(f.capability)).sort();
  assert.deepEqual(alerted(backlog.result), faulty, 'from a backlog: alerts for the faulty capabilities only');
  assert.deepEqual(alerted(live.result), alerted(backlog.result), 'live at 60×: the same alerts as from the backlog');
  assert.deepEqual(alerted(slow.result), [], 'live at 1×: no alert (no fault, and a minute is too short to warm up)');
  for (const fault of FAULTS) {
    const expected = fault.kind === 'payload-x6' ? /^payload_bytes_(mean|p95)$/ : /^latency_p(50|95)$/;
    for (const [mode, r] of [
      ['backlog', backlog.result],
      ['live 60×', live.result],
    ] as const) {
      const first = r.alerts.find((a) => a.state === 'FIRING' && word(a.capability).startsWith(word(fault.capability)));
      assert.ok(
        first !== undefined && expected.test(first.features[0]!.name),
        `${mode}: ${fault.kind} alerted by ${first?.features[0]?.name}`,
      );
    }
  }
});
