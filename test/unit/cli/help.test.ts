// `agentwatch --help` and the README's configuration table tell the truth about the options.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { describeOptions } from '../../../src/config/index.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const cli = `${root}dist/src/cli/main.js`;

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('--help exits 0 and lists every command and every option with its default', () => {
  const { status, stdout } = run('--help');
  assert.equal(status, 0);
  for (const command of ['run', 'check']) assert.match(stdout, new RegExp(`^  ${command} `, 'm'));
  for (const option of describeOptions()) {
    assert.ok(stdout.includes(option.name), `--help does not mention ${option.name}`);
  }
});

test('the README configuration table lists exactly the options agentwatch reads', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const section = readme.split('## Configuration')[1]?.split('\n## ')[0] ?? '';
  const inTable = new Set([...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));
  const read = describeOptions().map((o) => o.name);
  assert.deepEqual(
    read.filter((n) => !inTable.has(n)),
    [],
    'options missing from the README table',
  );
  assert.deepEqual(
    [...inTable].filter((n) => !read.includes(n!)),
    [],
    'README lists options agentwatch does not read',
  );
});

test('an unknown command exits 2 with AW_CLI_USAGE; a bad configuration exits 2 naming the variable', () => {
  const unknown = run('frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /AW_CLI_USAGE: unknown command "frobnicate"/);

  const result = spawnSync(process.execPath, [cli, 'check'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', KAFKA_REQUEST_TIMEOUT_MS: 'later' },
  });
  assert.equal(result.status, 2);
  assert.match(
    result.stderr,
    /AW_CONFIG_INVALID: invalid configuration:\n  - KAFKA_REQUEST_TIMEOUT_MS="later" is not a whole number/,
  );
});
