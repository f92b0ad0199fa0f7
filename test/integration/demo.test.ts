// The demo command from a clean state (its own ClickHouse directory and consumer group): both
// injected faults appear as alerts naming the right agents, the compliance query is printed, and
// after Ctrl-C (SIGINT) the process exits and nothing of it is left running.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { waitFor } from './harness.js';
import { repoRoot, stackConfig } from './stack-env.js';

const dir = mkdtempSync(join(tmpdir(), 'aw-demo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Pids of live processes whose command line mentions `marker`. */
function processesMentioning(marker: string): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).flatMap((pid) => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker) ? [Number(pid)] : []; } catch { return []; }
  });
}

test('the demo shows both faults as alerts for the right agents, then stops cleanly on Ctrl-C', async () => {
  const config = stackConfig();
  const child = spawn(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'demo'], {
    env: { PATH: process.env.PATH ?? '', KAFKA_BROKERS: config.kafka.brokers.join(','), SCHEMA_REGISTRY_URL: config.schemaRegistry.url, AGENTWATCH_DEMO_DIR: dir, API_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  const exited = once(child, 'exit');
  await waitFor('the demo to finish its scenario', () => out.includes('Ctrl-C stops everything.') || child.exitCode !== null, 150_000);
  assert.match(out, /^ALERT .* summarize /m, out);
  assert.match(out, /^ALERT .* extract /m, out);
  assert.doesNotMatch(out, /^ALERT .* classify /m, 'no alert for the healthy agent');
  assert.match(out, /compliance query: GET \/v1\/workflows\/.+\/timeline/);
  assert.match(out, /API docs: +http:\/\/127\.0\.0\.1:\d+\/docs/);

  child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0);
  assert.match(out, /stopped\.\n$/);
  assert.deepEqual(processesMentioning(dir), [], 'nothing of the demo is left running');
});
