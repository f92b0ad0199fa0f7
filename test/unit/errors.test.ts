// The error catalogue is the one source of each code's facts: every code thrown or answered in src/
// is in it, docs/errors.md is what it generates, the CLI exits with its exit codes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { AgentwatchError, ERROR_CATALOGUE, errorsMarkdown, exitCodeOf, isAgentwatchError } from '../../src/errors.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

test('every code used in src/ is in the catalogue', () => {
  const used = new Set<string>();
  for (const file of sources(join(root, 'src')))
    for (const match of readFileSync(file, 'utf8').matchAll(/'(AW_[A-Z_]+)'/g)) used.add(match[1]!);
  assert.ok(used.size > 10, `found ${used.size} codes`);
  assert.deepEqual(
    [...used].filter((code) => !(code in ERROR_CATALOGUE)),
    [],
    'codes missing from ERROR_CATALOGUE',
  );
});

test('docs/errors.md is what the catalogue generates (npm run docs:errors)', () => {
  assert.equal(readFileSync(join(root, 'docs/errors.md'), 'utf8'), errorsMarkdown());
});

test('exit codes come from the catalogue: usage and input 2, access denied 3, others and unknown errors 1', () => {
  assert.equal(exitCodeOf(new AgentwatchError('AW_CONFIG_INVALID', 'x')), 2);
  assert.equal(exitCodeOf(new AgentwatchError('AW_SCORE_INPUT_INVALID', 'x')), 2);
  assert.equal(exitCodeOf(new AgentwatchError('AW_KAFKA_ACCESS_DENIED', 'x')), 3);
  assert.equal(exitCodeOf(new AgentwatchError('AW_KAFKA_UNAVAILABLE', 'x')), 1);
  assert.equal(exitCodeOf(new Error('plain')), 1);
});

test('an AgentwatchError carries its code, cause, retryable flag and context', () => {
  const cause = new Error('ECONNREFUSED');
  const err = new AgentwatchError('AW_KAFKA_UNAVAILABLE', 'no broker', {
    cause,
    retryable: true,
    context: { brokers: 'x:1' },
  });
  assert.equal(err.code, 'AW_KAFKA_UNAVAILABLE');
  assert.equal(err.cause, cause);
  assert.equal(err.retryable, true);
  assert.deepEqual(err.context, { brokers: 'x:1' });
  assert.ok(isAgentwatchError(err, 'AW_KAFKA_UNAVAILABLE'));
  assert.ok(!isAgentwatchError(err, 'AW_CONFIG_INVALID'));
  assert.ok(!isAgentwatchError(new Error('plain')));
});
