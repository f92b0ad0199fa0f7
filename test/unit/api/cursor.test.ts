// Keyset cursors: ours round-trip; anything else, crafted positions included, is not a cursor (a 400).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCursor, encodeCursor } from '../../../src/api/cursor.js';

const craft = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

test('a cursor round-trips; crafted or malformed ones are rejected', () => {
  const cursor = { ts: 1_796_000_000_000, topic: 'agent.tasks.rank', partition: 2, offset: '12345' };
  assert.deepEqual(decodeCursor(encodeCursor(cursor)), cursor);
  assert.equal(decodeCursor('Wy0xLCAidCIsIC0xLCAiMSJd'), undefined, '[-1, "t", -1, "1"] from the hostile-input drill');
  for (const value of [
    [-1, 't', 0, '1'],
    [1.5, 't', 0, '1'],
    [1, '', 0, '1'],
    [1, 'bad topic', 0, '1'],
    [1, 't', -1, '1'],
    [1, 't', 2 ** 31, '1'],
    [1, 't', 0, '-1'],
    [1, 't', 0, '99999999999999999999'],
    [1, 't', 0, '9223372036854775808'],
    [1, 't', 0],
    'x',
    null,
  ])
    assert.equal(decodeCursor(craft(value)), undefined, JSON.stringify(value));
  assert.deepEqual(decodeCursor(craft([0, 't', 0, '9223372036854775807'])), {
    ts: 0,
    topic: 't',
    partition: 0,
    offset: '9223372036854775807',
  });
  assert.equal(decodeCursor('%%%'), undefined);
});
