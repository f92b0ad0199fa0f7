// Regression: `agentwatch run` exited right after logging "running" because nothing held the event
// loop. It must stay up until SIGTERM, then close what it opened and exit 0.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { runAgentwatch, spawnAgentwatch } from './harness.js';

const dataDir = mkdtempSync(join(tmpdir(), 'aw-run-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

test('agentwatch run stays up until SIGTERM, then exits 0 after closing', async () => {
  const overrides = {
    CLICKHOUSE_DATA_DIR: dataDir,
    API_PORT: '0',
    // The lifecycle only: on the shared test broker, the watch of the agents' consumer groups would
    // page other tests' stopped groups, and their alerts could be logged while shutting down.
    GROUP_WATCH_INTERVAL_MS: '0',
  };
  // Caps that a full fleet could fill only with a heap far beyond Node's default limit (about 4 GB):
  // it says so at the start, and runs.
  const child = spawnAgentwatch(
    ['run'],
    { ...overrides, DETECT_MAX_AGENTS: '1000000', CORRELATE_MAX_INFLIGHT: '10000000' },
    ['ignore', 'pipe', 'inherit'],
  );
  const exited = once(child, 'exit');
  const messages: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  const running = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg: string; component?: string };
      // kafkajs's own lines (a slow LeaveGroup answer, say) are not agentwatch's sequence.
      if (entry.component !== 'kafkajs') messages.push(entry.msg);
      const msg = entry.msg;
      if (msg.startsWith('agentwatch running')) resolve();
    });
    void exited.then(() => reject(new Error(`exited before running: ${messages.join(' | ')}`)));
  });
  await running;

  // A full dependency check from a second process takes a few hundred milliseconds; the service
  // must still be there afterwards.
  const check = runAgentwatch(['check'], { ...overrides, CLICKHOUSE_DATA_DIR: join(dataDir, 'check') });
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /"ok":true/);
  assert.equal(child.exitCode, null, `agentwatch run exited on its own: ${messages.join(' | ')}`);

  assert.ok(
    messages.some((m) => /^the V8 heap limit is \d+ MB, .*\(NODE_OPTIONS=--max-old-space-size=\d+/.test(m)),
    `no heap limit warning: ${messages.join(' | ')}`,
  );

  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0);
  assert.deepEqual(messages.slice(-3), ['signal received', 'shutting down', 'stopped']);
});
