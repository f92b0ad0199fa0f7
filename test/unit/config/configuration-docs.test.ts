// `agentwatch --help` and docs/configuration.md tell the truth about the options.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { configurationMarkdown, describeOptions } from '../../../src/config/index.js';

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

test('docs/configuration.md is what the options generate (npm run docs:config), and the README links it', () => {
  assert.equal(readFileSync(`${root}docs/configuration.md`, 'utf8'), configurationMarkdown());
  const listed = [...configurationMarkdown().matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(
    listed,
    describeOptions().map((o) => o.name),
    'one row per option agentwatch reads',
  );
  assert.match(readFileSync(`${root}README.md`, 'utf8'), /\]\(docs\/configuration\.md\)/);
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
