import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPosition, parsePosition } from '../../../src/alert/index.js';

test('a stream position is next offsets per partition, sorted, and reads back', () => {
  const position = new Map([
    [2, 9n],
    [0, 17n],
  ]);
  assert.equal(formatPosition(position), '0:17,2:9');
  assert.deepEqual(
    parsePosition('0:17,2:9'),
    new Map([
      [0, 17n],
      [2, 9n],
    ]),
  );
  assert.deepEqual(parsePosition(''), new Map());
});

test('anything else is not a position', () => {
  for (const text of ['x', '0:', ':1', '0:1;1:2', '0:-1', '0:1,', `0:${'9'.repeat(20)}`]) {
    assert.equal(parsePosition(text), undefined, text);
  }
});
