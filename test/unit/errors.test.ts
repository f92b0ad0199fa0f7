// The error codes in src/errors.ts and their documentation in docs/errors.md stay in sync.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { AgentwatchError, ERROR_CODES, isAgentwatchError } from '../../src/errors.js';

const docs = readFileSync(fileURLToPath(new URL('../../../docs/errors.md', import.meta.url)), 'utf8');

test('every error code is documented in docs/errors.md, and every documented code exists', () => {
  const documented = new Set([...docs.matchAll(/^\| `(AW_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  const defined = new Set(Object.keys(ERROR_CODES));
  assert.deepEqual(
    [...defined].filter((c) => !documented.has(c)),
    [],
    'codes missing from docs/errors.md',
  );
  assert.deepEqual(
    [...documented].filter((c) => !defined.has(c!) && !docs.includes(`${c}\` | retired`)),
    [],
    'documented codes that do not exist',
  );
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
