// scripts/stack.sh on real processes: a second stack in its own directory and on free ports comes
// up, comes up again without starting anything new, answers, and `down` leaves none of its processes.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot } from '../../bench/local-stack.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Pids of live processes whose command line mentions `marker`. */
function processesMentioning(marker: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker) ? [Number(pid)] : [];
      } catch {
        return [];
      }
    });
}

const stackDir = mkdtempSync(join(tmpdir(), 'aw-stack-lifecycle-'));
let env: NodeJS.ProcessEnv;

function stack(command: string): string {
  return execFileSync(join(repoRoot, 'scripts/stack.sh'), [command], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

after(() => {
  try {
    stack('down');
  } catch {
    /* already down */
  }
  rmSync(stackDir, { recursive: true, force: true });
});

test('up is idempotent, status reports both services, down stops every process it started', async () => {
  env = {
    ...process.env,
    AGENTWATCH_STACK_DIR: stackDir,
    STACK_KAFKA_PORT: String(await freePort()),
    STACK_KAFKA_CONTROLLER_PORT: String(await freePort()),
    STACK_KAFKA_SASL_PORT: String(await freePort()),
    STACK_KAFKA_TLS_PORT: String(await freePort()),
    STACK_REGISTRY_PORT: String(await freePort()),
  };
  stack('up');
  const pids = () =>
    ['kafka', 'registry'].map((name) => Number(readFileSync(join(stackDir, 'pids', `${name}.pid`), 'utf8')));
  const first = pids();
  assert.deepEqual(
    processesMentioning(stackDir).sort((a, b) => a - b),
    [...first].sort((a, b) => a - b),
    'exactly the two recorded processes run',
  );

  stack('up');
  assert.deepEqual(pids(), first, 'a second up starts nothing new');
  stack('status'); // exits non-zero (and throws) unless both answer
  assert.match(
    readFileSync(join(stackDir, 'env'), 'utf8'),
    new RegExp(`KAFKA_BROKERS=127.0.0.1:${env.STACK_KAFKA_PORT}`),
  );

  stack('down');
  assert.deepEqual(processesMentioning(stackDir), [], 'no process of this stack survives down');
  assert.throws(() => stack('status'), 'status fails once the stack is down');
});
