// The simulated A2A fleet on the real broker, accelerated (event time 60× the clock), with two faults
// injected: agentwatch alerts for exactly the two faulty agents, naming the right features, and
// audits the traffic.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { AnomalyAlert } from '../../src/detect/index.js';
import { createSchemaRegistry } from '../../src/decode/index.js';
import { createLogger } from '../../src/logger.js';
import type { Service } from '../../src/service.js';
import { DEFAULT_CAPABILITIES, FleetSimulator, type Scenario } from '../../src/sim/index.js';
import { isolatedOverrides, runId, startService, testKafka, waitFor } from './harness.js';
import { stackConfig } from '../../bench/local-stack.js';

const run = runId();
const name = (capability: string) => `${capability}-${run}`;
let service: Service | undefined;
let simulator: FleetSimulator | undefined;

after(async () => {
  await simulator?.stop();
  await service?.stop();
});

test('two injected faults become two alerts for the right agents, with the right features', async () => {
  const scenario: Scenario = {
    durationMs: 16 * 60_000,
    speed: 60,
    workflowsPerSecond: 2,
    maxAttempts: 3,
    capabilities: DEFAULT_CAPABILITIES.map((c) => ({ ...c, name: name(c.name) })),
    faults: [
      { kind: 'latency-x4', agent: name('summarize'), atMs: 8 * 60_000, durationMs: 4 * 60_000 },
      { kind: 'payload-x6', agent: name('extract'), atMs: 10 * 60_000, durationMs: 4 * 60_000 },
    ],
  };
  const alerts: AnomalyAlert[] = [];
  const startEventTime = Date.now() - scenario.durationMs;
  simulator = new FleetSimulator(
    testKafka(),
    createSchemaRegistry(stackConfig().schemaRegistry),
    scenario,
    createLogger('warn'),
    {
      startEventTime,
      seed: 7,
      partitions: 2,
    },
  );
  // The topics exist before agentwatch starts: discovered mid-run at 60× speed, their first records
  // would already be older than the detector's lateness.
  await simulator.ensureTopics();
  // Lateness is event time: at 60× speed, a pipeline delay of 200 ms is 12 s of event time, so the
  // window must wait 60 s of event time (1 s of clock) for its late records.
  service = await startService(
    isolatedOverrides(run, {
      INGEST_TOPIC_REFRESH_MS: '1000',
      DETECT_LATENESS_MS: '60000',
      EVENT_TIME_SPEED: '60',
      EVENT_TIME_ANCHOR: `${startEventTime}@${Date.now()}`,
    }),
    [],
  );
  service.alerts.subscribe((alert) => alerts.push(alert));
  await simulator.start();
  await simulator.done;
  process.stdout.write(
    `# simulated fleet: ${JSON.stringify(simulator.snapshot())} detector ${JSON.stringify(service.stats().detector)} correlator ${JSON.stringify(service.stats().correlator)}\n`,
  );
  await waitFor(
    'alerts for both faults',
    () => alerts.some((a) => a.agent === name('summarize')) && alerts.some((a) => a.agent === name('extract')),
    30_000,
  );

  const firing = alerts.filter((a) => a.state === 'FIRING');
  assert.deepEqual(
    [...new Set(firing.map((a) => a.agent))].sort(),
    [name('extract'), name('summarize')].sort(),
    'only the faulty agents alert',
  );
  const summarize = firing.find((a) => a.agent === name('summarize'))!;
  assert.match(summarize.features[0]!.name, /^latency_p(50|95)$/);
  const extract = firing.find((a) => a.agent === name('extract'))!;
  assert.match(extract.features[0]!.name, /^payload_bytes_(mean|p95)$/);
  const stats = simulator.snapshot();
  assert.ok(stats.workflowsStarted > 1_500 && stats.answers > 4_500, JSON.stringify(stats));
  assert.ok(service.stats().audit.rowsWritten > 9_000, 'the traffic is audited');
});
