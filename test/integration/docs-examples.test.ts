// Every example call in README.md and docs/*.md (each line of a ```sh block that runs curl) is run,
// as written, by bash with the real curl and jq, against agentwatch watching the demo's fleet
// (extract → summarize → classify, from src/sim) with a latency fault on summarize and a payload
// fault on extract lasting to the end. Each must succeed (HTTP 2xx: curl runs with
// --fail-with-body) and return rows: non-empty output, no `null`, a non-empty file where it writes
// one, a value for a variable it sets, no `"ok": false` (verify), and an event from a stream.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createSchemaRegistry } from '../../src/decode/index.js';
import { createLogger } from '../../src/logger.js';
import type { Service } from '../../src/service.js';
import { FleetSimulator, defaultScenario } from '../../src/sim/index.js';
import { repoRoot, stackConfig } from '../../bench/local-stack.js';
import { isolatedOverrides, runId, startService, testKafka, waitFor } from './harness.js';

const run = runId();
const KEYS = { auditor: 'docs-auditor-0123456789', sre: 'docs-sre-0123456789abcd', admin: 'docs-admin-0123456789' };
const cwd = mkdtempSync(join(tmpdir(), `aw-docs-${run}-`));
let service: Service;
let env: Record<string, string>;
let stopFleet: () => Promise<void> = async () => undefined;

interface Example {
  where: string;
  command: string;
}

/** The curl lines of every ```sh block (a line ending in \ continues on the next). */
function examples(): Example[] {
  const files = [
    'README.md',
    ...readdirSync(join(repoRoot, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const found: Example[] = [];
  for (const file of files) {
    const lines = readFileSync(join(repoRoot, file), 'utf8').split('\n');
    let inSh = false;
    for (let i = 0; i < lines.length; i += 1) {
      const line = lines[i]!;
      if (line.startsWith('```')) {
        inSh = !inSh && line.trim() === '```sh';
        continue;
      }
      if (!inSh || !/\bcurl\b/.test(line)) continue;
      let command = line;
      const start = i + 1;
      while (command.endsWith('\\') && i + 1 < lines.length) command = `${command.slice(0, -1)} ${lines[++i]!.trim()}`;
      found.push({ where: `${file}:${start}`, command });
    }
  }
  return found;
}

/** Where the API's answers keep their rows. */
const ROW_LISTS = ['records', 'anomalies', 'agents', 'silences', 'groups', 'findings', 'deadLetters'];

/** A JSON answer whose row lists (records, anomalies, agents, …) are all empty. */
function emptyList(out: string): boolean {
  let body: unknown;
  try {
    body = JSON.parse(out);
  } catch {
    return false; // several values (jq), NDJSON, CSV or metrics text: non-empty is rows
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return Array.isArray(body) && body.length === 0;
  const lists = ROW_LISTS.map((key) => (body as Record<string, unknown>)[key]).filter(Array.isArray);
  return lists.length > 0 && lists.every((list) => list.length === 0);
}

/** Runs bash asynchronously: the API answering the examples is served by this very process. */
function bash(script: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', script],
      { cwd, env: { ...process.env, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ status: code, stdout, stderr });
      },
    );
  });
}

/** Runs the examples of one file in order (variables set by one are seen by the next). */
async function runExamples(list: readonly Example[]): Promise<Array<{ where: string; problem: string }>> {
  const problems: Array<{ where: string; problem: string }> = [];
  let state = '';
  for (const { where, command } of list) {
    const setting = /^([A-Z_]+)=\$\(/.exec(command)?.[1];
    const writes = /(?:>\s*|-o\s+)([\w.-]+)\s*$/.exec(command)?.[1];
    // SSE: a stream never ends by itself; curl's --max-time (exit 28) ends it.
    const streams = command.includes('--max-time');
    const script = [
      'set -o pipefail',
      'curl() { command curl --fail-with-body "$@"; }',
      state,
      command,
      setting === undefined ? '' : `echo "${setting}=\${${setting}}"`,
    ].join('\n');
    const result = await bash(script);
    const out = result.stdout.trim();
    const ok = result.status === 0 || (streams && result.status === 28);
    if (!ok)
      problems.push({ where, problem: `exit ${result.status}: ${out.slice(0, 300)} ${result.stderr.slice(0, 300)}` });
    else if (setting !== undefined) {
      const value = out
        .split('\n')
        .at(-1)!
        .slice(setting.length + 1);
      if (value === '' || value === 'null') problems.push({ where, problem: `${setting} is empty` });
      else state += `${setting}=${JSON.stringify(value)}\n`;
    } else if (writes !== undefined) {
      if ((statSync(join(cwd, writes), { throwIfNoEntry: false })?.size ?? 0) === 0)
        problems.push({ where, problem: `${writes} is empty` });
    } else if (out === '' || /^(null\s*)+$/.test(out) || emptyList(out)) {
      problems.push({ where, problem: `no rows: ${JSON.stringify(out.slice(0, 200))}` });
    } else if (/"ok":\s*false/.test(out)) {
      problems.push({ where, problem: `answered ok: false: ${out.slice(0, 300)}` });
    } else if (streams && !/^data: /m.test(out)) {
      problems.push({ where, problem: `the stream sent no event: ${JSON.stringify(out.slice(0, 200))}` });
    }
  }
  return problems;
}

before(async () => {
  const config = stackConfig();
  const scenario = defaultScenario();
  scenario.speed = 60;
  scenario.durationMs = 12 * 60_000;
  scenario.faults = [
    { kind: 'latency-x4', agent: 'summarize', atMs: 7 * 60_000, durationMs: 10 * 60_000 },
    { kind: 'payload-x6', agent: 'extract', atMs: 7 * 60_000, durationMs: 10 * 60_000 },
  ];
  const startEventTime = Date.now() - scenario.durationMs;
  const fleet = new FleetSimulator(
    testKafka(),
    createSchemaRegistry(config.schemaRegistry),
    scenario,
    createLogger('warn'),
    { seed: 5, startEventTime },
  );
  await fleet.ensureTopics();
  // As the demo runs it: the accelerated clock declared (EVENT_TIME_SPEED, EVENT_TIME_ANCHOR), and a
  // lateness of 60 s of event time (1 s of clock at 60×).
  service = await startService(
    isolatedOverrides(run, {
      // The demo fleet's own topics; only what is produced from now on.
      INGEST_TOPIC_PATTERN: '^agent\\.(tasks|results)\\.(extract|summarize|classify)$',
      INGEST_FROM_BEGINNING: 'false',
      API_KEYS: `docs-audit:auditor:${KEYS.auditor},docs-oncall:sre:${KEYS.sre},docs-root:admin:${KEYS.admin}`,
      GROUP_WATCH_INTERVAL_MS: '2000',
      ALERT_STREAM_HEARTBEAT_MS: '1000',
      DETECT_LATENESS_MS: '60000',
      EVENT_TIME_SPEED: '60',
      EVENT_TIME_ANCHOR: `${startEventTime}@${Date.now()}`,
    }),
    [],
  );
  await fleet.start();
  await fleet.done;
  stopFleet = () => fleet.stop();
  await waitFor(
    'summarize and extract firing, and the consumer groups evaluated',
    async () => {
      const response = await fetch(`${service.apiUrl}/v1/agents`, {
        headers: { authorization: `Bearer ${KEYS.sre}` },
        signal: AbortSignal.timeout(5_000),
      });
      const { agents } = (await response.json()) as { agents: Array<{ agent: string; firing: boolean }> };
      const groups = await fetch(`${service.apiUrl}/v1/consumer-groups`, {
        headers: { authorization: `Bearer ${KEYS.sre}` },
      });
      const watched = ((await groups.json()) as { groups: unknown[] }).groups.length > 0;
      return watched && ['summarize', 'extract'].every((a) => agents.some((s) => s.agent === a && s.firing));
    },
    120_000,
  );
  const search = await fetch(`${service.apiUrl}/v1/audit/events?capability=summarize&kind=request&limit=1`, {
    headers: { authorization: `Bearer ${KEYS.auditor}` },
  });
  const workflow = ((await search.json()) as { records: Array<{ workflow_id: string }> }).records[0]!.workflow_id;
  env = {
    AW: service.apiUrl,
    KEY: KEYS.auditor,
    SRE_KEY: KEYS.sre,
    ADMIN_KEY: KEYS.admin,
    WF: workflow,
    FROM: new Date(Date.now() - 3_600_000).toISOString(),
    TO: new Date(Date.now() + 3_600_000).toISOString(),
  };
});

after(async () => {
  // The simulator's consumers may be mid-rebalance when it stops: do not wait on them for long.
  await Promise.race([stopFleet(), new Promise((resolve) => setTimeout(resolve, 15_000))]);
  await service?.stop();
  rmSync(cwd, { recursive: true, force: true });
});

test('every curl example in README.md and docs/ runs against the demo fleet and returns rows', async () => {
  const all = examples();
  assert.ok(all.length >= 20, `${all.length} examples found`);
  const byFile = new Map<string, Example[]>();
  for (const example of all) {
    const file = example.where.split(':')[0]!;
    byFile.set(file, [...(byFile.get(file) ?? []), example]);
  }
  const problems: Array<{ where: string; problem: string }> = [];
  for (const list of byFile.values()) problems.push(...(await runExamples(list)));
  assert.deepEqual(problems, []);
});
