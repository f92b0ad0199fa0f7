// Record headers reach the canonical event as sent, whatever their names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headerBytes, headerStrings } from '../../../src/ingest/agent-tap.js';

test('headers named __proto__, constructor or toString are kept as headers (kafkajs decodes them as own properties)', () => {
  // kafkajs builds its headers object with computed keys, which define own properties, as here.
  const decoded = {
    ['__proto__']: Buffer.from('p'),
    ['constructor']: Buffer.from('c'),
    ['toString']: Buffer.from('t'),
    multi: [Buffer.from('a'), Buffer.from('b')],
  };
  const headers = headerStrings(decoded);
  assert.deepEqual(Object.keys(headers).sort(), ['__proto__', 'constructor', 'multi', 'toString']);
  assert.deepEqual(
    JSON.parse(JSON.stringify(headers)),
    JSON.parse('{"__proto__":"p","constructor":"c","toString":"t","multi":"a,b"}'),
  );
  assert.equal(Object.getPrototypeOf(headers), null, 'no prototype reachable from record content');
});

test("what kafkajs makes of them: Object's own properties in the value array are dropped", () => {
  // kafkajs 2.2's record decoder: reduce((obj, { key, value }) => ({ ...obj, [key]: obj[key] === undefined ? value : Array.isArray(obj[key]) ? obj[key].concat([value]) : [obj[key], value] }), {})
  const decode = (pairs: Array<[string, Buffer]>) =>
    pairs.reduce<Record<string, unknown>>((obj, [key, value]) => {
      const seen = obj[key];
      return { ...obj, [key]: seen === undefined ? value : Array.isArray(seen) ? seen.concat([value]) : [seen, value] };
    }, {});
  const decoded = decode([
    ['__proto__', Buffer.from('p')],
    ['constructor', Buffer.from('c')],
    ['toString', Buffer.from('t')],
    ['dup', Buffer.from('a')],
    ['dup', Buffer.from('b')],
  ]);
  const headers = headerStrings(decoded as never);
  assert.deepEqual({ ...headers }, JSON.parse('{"__proto__":"p","constructor":"c","toString":"t","dup":"a,b"}'));
});

test('a null header value (Kafka allows it) is an empty value, not a crash of the tap', () => {
  const headers = { empty: null, set: Buffer.from([0xc3, 0x28]) } as never;
  assert.deepEqual({ ...headerStrings(headers) }, { empty: '', set: Buffer.from([0xc3, 0x28]).toString() });
  assert.deepEqual(
    headerBytes(headers)?.map(([name, value]) => [name, [...value]]),
    [
      ['empty', []],
      ['set', [0xc3, 0x28]],
    ],
  );
});
