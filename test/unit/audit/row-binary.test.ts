// The RowBinary writer's fast paths (byte-by-byte numbers, ASCII text) against Node's own encoders.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RowBinaryReader, RowBinaryWriter } from '../../../src/audit/index.js';

test('integers are written as Node writes them, on both sides of every fast path', () => {
  const int64s = [
    0,
    1,
    -1,
    255,
    -256,
    2 ** 31,
    -(2 ** 31),
    2 ** 32,
    -(2 ** 32),
    2 ** 32 + 7,
    -(2 ** 32) - 5,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
  ];
  for (const value of int64s) {
    const out = new RowBinaryWriter(4);
    out.int64(value);
    out.int64(String(value));
    const expected = Buffer.alloc(8);
    expected.writeBigInt64LE(BigInt(value));
    assert.deepEqual(out.bytes(), Buffer.concat([expected, expected]), `int64 ${value}`);
  }
  for (const decimal of ['0', '4294967296', '9007199254740993', '18446744073709551615', '123456789012345']) {
    const out = new RowBinaryWriter(4);
    out.uint64(decimal);
    const expected = Buffer.alloc(8);
    expected.writeBigUInt64LE(BigInt(decimal));
    assert.deepEqual(out.bytes(), expected, `uint64 ${decimal}`);
    assert.equal(new RowBinaryReader(Buffer.from(out.bytes())).uint64(), decimal);
  }
  for (const value of [0, 1, 0xffff, 0x1234]) {
    const out = new RowBinaryWriter(1);
    out.uint16(value);
    assert.equal(Buffer.from(out.bytes()).readUInt16LE(0), value);
  }
  for (const value of [0, 1, 0xffffffff, 0x80000000, 123456789]) {
    const out = new RowBinaryWriter(1);
    out.uint32(value);
    assert.equal(Buffer.from(out.bytes()).readUInt32LE(0), value);
  }
});

test('text is length-prefixed UTF-8, short ASCII or not, and long', () => {
  const texts = [
    '',
    'a',
    'plain ascii',
    'é',
    'ascii then é',
    '😀',
    'x'.repeat(64),
    'x'.repeat(65),
    'y'.repeat(200),
    `${'z'.repeat(63)}é`,
  ];
  const out = new RowBinaryWriter(2);
  for (const text of texts) out.string(text);
  const reader = new RowBinaryReader(Buffer.from(out.bytes()));
  for (const text of texts) {
    const bytes = reader.stringBytes();
    assert.deepEqual(bytes, Buffer.from(text, 'utf8'), JSON.stringify(text.slice(0, 10)));
  }
  assert.equal(reader.done, true);
});
