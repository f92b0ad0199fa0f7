// `agentwatch demo`: the whole product in one terminal. It runs agentwatch (tap, detection, audit,
// API) and an accelerated A2A fleet with two injected faults, prints each alert as it fires, then one
// affected workflow's audit timeline from the API and where to look next, and keeps serving the API
// until Ctrl-C. Logs go to a file; the terminal is for people.

import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { loadConfig, type Config } from '../config/index.js';
import { createSchemaRegistry } from '../decode/index.js';
import type { AnomalyAlert } from '../detect/index.js';
import { createKafka } from '../ingest/index.js';
import { createLogger } from '../logger.js';
import { Service } from '../service.js';
import { acceleratedSettings, defaultScenario, FleetSimulator, type Scenario } from '../sim/index.js';

export interface DemoOptions {
  /** Event time to simulate, ms. */
  durationMs: number;
  speed: number;
  logFile: string;
  dataDir: string;
}

export function demoScenario(options: DemoOptions): Scenario {
  const scenario = defaultScenario();
  scenario.durationMs = options.durationMs;
  scenario.speed = options.speed;
  // 3 workflows/s of event time: at 30× that is about 270 tasks and 270 answers a second of wall
  // time, which the fleet, agentwatch and its embedded ClickHouse handle in one process on 2 cores.
  // At 5/s the fleet itself stalled now and then, and a stalled dispatcher is a real anomaly on the wire.
  scenario.workflowsPerSecond = 3;
  // Warm-up is 30 windows (5 min of event time); the faults come after it.
  const at = (fraction: number) => Math.round(options.durationMs * fraction);
  scenario.faults = [
    { kind: 'latency-x4', agent: 'summarize', atMs: at(0.45), durationMs: at(0.3) },
    { kind: 'payload-x6', agent: 'extract', atMs: at(0.65), durationMs: at(0.3) },
  ];
  return scenario;
}

const fmt = (n: number) => (Number.isFinite(n) ? (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2)) : '–');

export function describeAlert(alert: AnomalyAlert): string {
  if (alert.kind === 'consumer-group')
    return alert.state === 'FIRING'
      ? `GROUP  ${alert.agent}: ${alert.detail ?? 'unhealthy'}`
      : `OK     consumer group ${alert.agent} healthy again`;
  const top = alert.features
    .slice(0, 3)
    .map((f) => `${f.name} ${fmt(f.value)} (baseline ${fmt(f.baselineMean)}, +${fmt(f.contribution)})`)
    .join('; ');
  const when = new Date(alert.windowStart).toISOString().slice(11, 19);
  return alert.state === 'FIRING'
    ? `${alert.kind === 'drift' ? 'DRIFT' : 'ALERT'}  ${alert.severity.toUpperCase().padEnd(8)} ${alert.agent.padEnd(10)} window ${when}  score ${fmt(alert.score)} > threshold ${fmt(alert.threshold)}\n       top: ${top}`
    : `OK     resolved ${alert.agent.padEnd(10)} window ${when}  (${alert.alertId})`;
}

export async function runDemo(options: DemoOptions, out: Writable, stop: AbortSignal): Promise<number> {
  const say = (line = '') => out.write(`${line}\n`);
  const adminKey = `demo-${randomBytes(12).toString('hex')}`;
  const scenario = demoScenario(options);
  const startEventTime = Date.now() - options.durationMs;
  const env = {
    ...process.env,
    KAFKA_GROUP_ID: `agentwatch-demo-${Date.now()}`,
    INGEST_FROM_BEGINNING: 'false',
    INGEST_TOPIC_REFRESH_MS: '2000',
    CLICKHOUSE_DATA_DIR: options.dataDir,
    // The fleet's declared clock (its records are on time), and event-time waits that scale with its
    // speed (see sim/accelerated-clock.ts).
    ...acceleratedSettings(options.speed, startEventTime, Date.now()),
    API_KEYS: `demo:admin:${adminKey}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
  const config: Config = loadConfig(env);
  const logger = createLogger(config.logLevel, options.logFile);
  const simulator = new FleetSimulator(
    createKafka(config.kafka, logger),
    createSchemaRegistry(config.schemaRegistry),
    scenario,
    logger,
    {
      startEventTime,
    },
  );
  say(
    `agentwatch demo: an A2A agent fleet (extract → summarize → classify) at ${options.speed}× speed, ${options.durationMs / 60_000} minutes of event time`,
  );
  say(
    `faults: ${scenario.faults.map((f) => `${f.kind} on ${f.agent} at minute ${(f.atMs / 60_000).toFixed(1)}`).join(', ')}`,
  );
  say(`logs: ${options.logFile}`);
  await simulator.ensureTopics();
  const service = await Service.start(config, logger);
  const alerts: AnomalyAlert[] = [];
  service.alerts.subscribe((alert) => {
    alerts.push(alert);
    say(describeAlert(alert));
  });
  // The fleet starts once agentwatch knows where it reads each partition from (a new group starts at
  // the topics' ends, found after it joined: records produced before that would not be read).
  let waited: NodeJS.Timeout | undefined;
  await Promise.race([service.reading(), new Promise((resolve) => (waited = setTimeout(resolve, 60_000)))]);
  clearTimeout(waited);
  await simulator.start();
  say('watching… (the first 5 minutes of event time teach the baselines)');
  await Promise.race([
    simulator.done,
    new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true })),
  ]);
  await simulator.stop();
  const stats = simulator.snapshot();
  const watched = service.stats();
  say(
    `fleet done: ${stats.workflowsStarted} workflows, ${stats.tasksDispatched} tasks, ${stats.retries} retries; agentwatch audited ${watched.audit.rowsWritten} records, scored ${watched.detector.windowsScored} windows`,
  );
  if (watched.detector.lateEvents > 0)
    say(
      `note: ${watched.detector.lateEvents} events came after their window had closed and were left out of detection (the machine was too busy for --speed ${options.speed}; try a lower speed)`,
    );
  logger.info({ stats: watched, simulator: stats }, 'demo scenario finished');

  const affected = alerts.find((a) => a.state === 'FIRING' && a.kind !== 'consumer-group');
  if (affected !== undefined && !stop.aborted) {
    const headers = { authorization: `Bearer ${adminKey}` };
    const from = new Date(affected.windowStart).toISOString();
    const found = (await (
      await fetch(`${service.apiUrl}/v1/audit/events?capability=${affected.agent}&kind=request&from=${from}&limit=1`, {
        headers,
      })
    ).json()) as { records: Array<{ workflow_id: string }> };
    const workflowId = found.records[0]?.workflow_id;
    if (workflowId !== undefined) {
      const timeline = (await (
        await fetch(`${service.apiUrl}/v1/workflows/${encodeURIComponent(workflowId)}/timeline`, { headers })
      ).json()) as {
        summary: Record<string, unknown>;
        records: Array<{
          ts: string;
          capability: string;
          kind: string;
          state: string;
          latency_ms: number | null;
          retries: number;
          topic: string;
          partition: number;
          offset: string;
        }>;
      };
      say();
      say(
        `compliance query: GET /v1/workflows/${workflowId}/timeline  (a workflow ${affected.agent} served during the incident)`,
      );
      for (const r of timeline.records) {
        say(
          `  ${r.ts}  ${r.capability.padEnd(10)} ${r.kind.padEnd(8)} ${(r.state || '').padEnd(10)} ${r.latency_ms === null ? '' : `${r.latency_ms} ms`}${r.retries > 0 ? `  retry ${r.retries}` : ''}  [${r.topic}/${r.partition}@${r.offset}]`,
        );
      }
      say(`  summary: ${JSON.stringify(timeline.summary)}`);
    }
  }
  say();
  say('where to look next:');
  say(`  API docs:   ${service.apiUrl}/docs   (key for this demo: ${adminKey})`);
  say(`  try:        curl -H 'Authorization: Bearer ${adminKey}' '${service.apiUrl}/v1/anomalies'`);
  say('  dashboards: docker compose up -d  → Grafana on http://127.0.0.1:3000 (docs/operations.md#dashboards)');
  say('  verify:     agentwatch verify --checkpoints   (after Ctrl-C, with CLICKHOUSE_DATA_DIR of this demo)');
  say('Ctrl-C stops everything.');
  if (!stop.aborted)
    await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
  await service.stop();
  say('stopped.');
  return 0;
}
