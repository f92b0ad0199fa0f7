// The demo command from a clean state (its own ClickHouse directory and consumer group): both
// injected faults appear as alerts naming the right agents, the compliance query is printed, and
// after Ctrl-C (SIGINT) the process exits and nothing of it is left running. The demo logs at debug
// level here, so that a missed or extra alert comes with every anomalous window in the message; and
// whatever fails, the demo is killed afterwards (it waits for Ctrl-C, and would keep this file alive),
// and its directory (log, audit store) is kept.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { spawnAgentwatch, waitFor } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'aw-demo-'));
let demo: ChildProcess | undefined;
let passed = false;
after(() => {
  if (demo !== undefined && demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
  // A failed run keeps its log and audit store for a look (the path is in the demo's output).
  if (passed) rmSync(dir, { recursive: true, force: true });
});

/** Pids of live processes whose command line mentions `marker`. */
function processesMentioning(marker: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .flatMap((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker) ? [Number(pid)] : [];
      } catch {
        return [];
      }
    });
}

/** The demo log's anomalous windows and alerts, one line each: what to read when an alert is missing or extra. */
function detectionTrace(): string {
  const log = readdirSync(dir).find((name) => name.startsWith('agentwatch-') && name.endsWith('.log'));
  if (log === undefined) return '(no demo log)';
  const lines = readFileSync(join(dir, log), 'utf8')
    .split('\n')
    .filter((line) => line.includes('"anomaly":true') || line.includes('"msg":"anomaly '));
  return lines
    .map((line) => {
      const entry = JSON.parse(line) as {
        msg: string;
        agent: string;
        windowStart: string;
        score: number;
        values?: Record<string, number>;
        top?: unknown;
      };
      return `${entry.windowStart} ${entry.agent} ${entry.msg} score ${entry.score} ${JSON.stringify(entry.values ?? entry.top)}`;
    })
    .join('\n');
}

test('the demo shows both faults as alerts for the right agents, then stops cleanly on Ctrl-C', async () => {
  const child = (demo = spawnAgentwatch(['demo'], { AGENTWATCH_DEMO_DIR: dir, API_PORT: '0', LOG_LEVEL: 'debug' }, [
    'ignore',
    'pipe',
    'pipe',
  ]));
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = once(child, 'exit');
  await waitFor(
    'the demo to finish its scenario',
    () => out.includes('Ctrl-C stops everything.') || child.exitCode !== null,
    150_000,
  );
  const explain = () => `${out}\nanomalous windows and alerts in the log:\n${detectionTrace()}`;
  assert.match(out, /^ALERT .* summarize /m, explain());
  assert.match(out, /^ALERT .* extract /m, explain());
  assert.doesNotMatch(out, /^ALERT .* classify /m, `no alert for the healthy agent\n${explain()}`);
  assert.match(out, /compliance query: GET \/v1\/workflows\/.+\/timeline/);
  assert.match(out, /API docs: +http:\/\/127\.0\.0\.1:\d+\/docs/);

  child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0);
  assert.match(out, /stopped\.\n$/);
  assert.deepEqual(processesMentioning(dir), [], 'nothing of the demo is left running');
  passed = true;
});
