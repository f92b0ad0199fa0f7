// The audit row of chain version 2 (RowBinary of what the record alone says) and the version-1
// form that stored rows before it still verify against.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  auditRowValues,
  chainHash,
  chainHashV1,
  createRedactor,
  HASHED_COLUMNS,
  REDACTED,
  RowBinaryReader,
  RowBinaryWriter,
  writeHashedColumns,
  type AuditRowValues,
} from '../../../src/audit/index.js';
import { clickhouseTime, compareUtf8 } from '../../../src/audit/audit-row.js';
import { Correlator } from '../../../src/correlate/index.js';
import { RecordDecoder } from '../../../src/decode/index.js';
import { record } from '../../fixtures/records.js';

const decoder = new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes: 1 << 20 });
const noRedaction = createRedactor([]);

async function eventOf(value: unknown, extra = {}) {
  return (await decoder.decode([record('agent.tasks.x', value, extra)]))[0]!;
}

function rowBytes(values: AuditRowValues): Buffer {
  const out = new RowBinaryWriter(256);
  writeHashedColumns(out, values);
  return Buffer.from(out.bytes());
}

/** Reads one value of a ClickHouse type back (the reference reading of HASHED_COLUMNS). */
function readValue(reader: RowBinaryReader, type: string): unknown {
  switch (type) {
    case 'UInt16':
      return reader.uint16();
    case 'UInt32':
      return reader.uint32();
    case 'UInt64':
      return reader.uint64();
    case 'Int64':
      return reader.int64();
    case "DateTime64(3, 'UTC')":
      return Number(reader.int64());
    case 'Map(String, String)': {
      const pairs: Array<[string, Buffer]> = [];
      for (let n = reader.varint(); n > 0; n -= 1) pairs.push([reader.string(), reader.stringBytes()]);
      return pairs;
    }
    default:
      return reader.stringBytes();
  }
}

const fixedRow: AuditRowValues = {
  topic: 'agent.tasks.x',
  partition: 3,
  offset: '42',
  prev_offset: '41',
  ts: 1700000000123,
  key: Buffer.from([0x77, 0x66, 0xff, 0x00]),
  headers: [
    ['a', Buffer.from('tab\there')],
    ['z-h', Buffer.from([0xc3, 0x28])],
  ],
  producer: 'x',
  capability: 'x',
  workflow_id: 'wf-"1"',
  task_id: 't\n1',
  message_id: '',
  context_id: 'c',
  rpc_id: '7',
  method: 'SendMessage',
  step: '2',
  kind: 'request',
  state: '',
  error_type: '',
  attempt: 2,
  payload_bytes: 31,
  encoding: 'a2a-jsonrpc',
  schema_id: -1,
  parse_error: '',
  dlq_reason: '',
  payload: '{"a":"\\u0001 ☃ \u2028"}',
  payload_encoding: 'text',
};

describe('the audit row, chain version 2', () => {
  test('the row is written in HASHED_COLUMNS order, each value in its RowBinary type', () => {
    const reader = new RowBinaryReader(rowBytes(fixedRow));
    for (const [name, type] of HASHED_COLUMNS) {
      const value = readValue(reader, type);
      const expected = fixedRow[name];
      const normalised =
        typeof expected === 'string' && type.includes('String')
          ? Buffer.from(expected)
          : typeof expected === 'number' && (type === 'UInt64' || type === 'Int64')
            ? String(expected)
            : name === 'headers'
              ? (expected as AuditRowValues['headers']).map(([n, v]) => [n, Buffer.from(v)])
              : name === 'offset' || name === 'prev_offset'
                ? String(expected)
                : expected;
      assert.deepEqual(value, normalised, name);
    }
    assert.equal(reader.done, true, 'nothing after the last hashed column');
  });

  test('the chain format is stable: a fixed row has a fixed hash (stored chains depend on it)', () => {
    assert.equal(chainHash('ab'.repeat(32), rowBytes(fixedRow)), chainHash('ab'.repeat(32), rowBytes({ ...fixedRow })));
    assert.equal(chainHash('ab'.repeat(32), rowBytes(fixedRow)), PINNED_V2_HASH);
  });

  test('changing any hashed value, or the previous hash, changes the hash', () => {
    const base = chainHash('', rowBytes(fixedRow));
    for (const [name, type] of HASHED_COLUMNS) {
      const value = fixedRow[name];
      const altered: unknown =
        name === 'headers'
          ? [...fixedRow.headers, ['injected', Buffer.from('yes')]]
          : name === 'offset' || name === 'prev_offset'
            ? String(Number(value) + 1)
            : typeof value === 'number'
              ? value + 1
              : type.includes('String') && typeof value !== 'string'
                ? Buffer.concat([Buffer.from(value as Uint8Array), Buffer.from('!')])
                : `${String(value)}!`;
      assert.notEqual(chainHash('', rowBytes({ ...fixedRow, [name]: altered })), base, `a change to ${name}`);
    }
    assert.notEqual(chainHash('0'.repeat(64), rowBytes(fixedRow)), base);
    // Length prefixes make the form unambiguous: moving a byte from one value to the next changes it.
    assert.notEqual(
      chainHash('', rowBytes({ ...fixedRow, message_id: 'ab', context_id: 'c' })),
      chainHash('', rowBytes({ ...fixedRow, message_id: 'a', context_id: 'bc' })),
    );
  });

  test('the row is what the record alone says: correlation outcomes and header order do not change it', async () => {
    const value = {
      jsonrpc: '2.0',
      id: '1',
      method: 'message/send',
      params: { message: { taskId: 't', contextId: 'w' } },
    };
    const headers = { b: '2', a: '1', 'a2a-attempt': '1' };
    const plain = await eventOf(value, { headers, offset: '10' });
    const correlated = await eventOf(value, { headers: { 'a2a-attempt': '1', a: '1', b: '2' }, offset: '10' });
    // Correlated as a retry whose answer came first (read order): latency, retries set.
    const correlator = new Correlator({ taskTtlMs: 60_000, maxInFlight: 100, maxRecent: 100 });
    const first = await eventOf(value, { headers, offset: '9', timestamp: 1_699_999_999_000 });
    correlator.process([first, correlated], 1_700_000_000_000);
    assert.equal(correlated.retries, 1, 'the correlator saw a retry');
    assert.deepEqual(
      rowBytes(auditRowValues(correlated, '9', noRedaction)),
      rowBytes(auditRowValues(plain, '9', noRedaction)),
    );
  });

  test('key and header values are stored as sent, bytes included; headers sorted by name in UTF-8 byte order', async () => {
    const key = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    const event = await eventOf(
      { workflow_id: 'w', result: 1 },
      {
        key: key.toString('utf8'),
        keyBytes: key,
        headerPairs: [
          ['\uffff', Buffer.from([1])],
          ['b', Buffer.from([0x80])],
          ['😀', Buffer.from([2])],
          ['b', Buffer.from([0x81])],
        ],
      },
    );
    const values = auditRowValues(event, '-1', noRedaction);
    assert.deepEqual(Buffer.from(values.key), key);
    assert.deepEqual(
      values.headers.map(([name, v]) => [name, [...v]]),
      [
        ['b', [0x80]],
        ['b', [0x81]],
        ['\uffff', [1]],
        ['😀', [2]],
      ],
      'a repeated name keeps its values in record order; U+FFFF sorts before U+1F600 (UTF-8 bytes EF < F0)',
    );
    assert.equal(compareUtf8('\uffff', '😀'), -1);
    assert.equal(compareUtf8('a', 'b'), -1);
  });
});

describe('chain version 1 (rows stored before version 2)', () => {
  test('a fixed row has the hash every version-1 chain was computed with', () => {
    // If this fails, stored version-1 audit trails no longer verify: the form must never change.
    const row = {
      topic: 'agent.tasks.x',
      partition: 3,
      offset: '42',
      prev_offset: '41',
      ts: 1700000000123,
      key: 'wf-"1"',
      headers: { 'z-h': 'é', a: 'tab\there' },
      producer: 'x',
      capability: 'x',
      workflow_id: 'wf-"1"',
      task_id: 't\n1',
      message_id: '',
      context_id: 'c',
      rpc_id: '7',
      method: 'SendMessage',
      step: '2',
      kind: 'request',
      state: '',
      error_type: '',
      attempt: 2,
      payload_bytes: 31,
      encoding: 'a2a',
      schema_id: -1,
      parse_error: '',
      dlq_reason: '',
      latency_ms: -1,
      retries: 1,
      timed_out: 0,
      payload: '{"a":"\\u0001 ☃ \u2028"}',
      payload_encoding: 'text',
    };
    assert.equal(chainHashV1('abc', row), '1d3c831a50bdbc79a3007278eb4a8ebc05fc5f90c3944314930412cd96628aee');
  });

  test('ClickHouse time text is exact to the millisecond', () => {
    for (const ms of [
      0, 999, 1000, 1_700_000_000_123, 1_700_000_000_999, 1_700_000_001_000, 1_700_000_000_007, -1, -1001,
      253_402_300_799_999,
    ]) {
      assert.equal(clickhouseTime(ms), new Date(ms).toISOString().replace('T', ' ').replace('Z', ''), `${ms}`);
    }
  });
});

const PINNED_V2_HASH = '63d92e4c27e1f0a48a8bee3a9892eab309a5ad322eee05886e008341c7f6e17e';

describe('redaction', () => {
  test('masks the configured paths, with * for any key or array item, without touching the input', () => {
    const redact = createRedactor(['params.message.parts.*.text', 'customer.email', '*.password']);
    const body = {
      params: {
        message: { parts: [{ kind: 'text', text: 'secret 1' }, { kind: 'data', data: 1 }, { text: 'secret 2' }] },
      },
      customer: { email: 'a@b.c', name: 'A' },
      login: { password: 'pw' },
    };
    const copy = structuredClone(body);
    const { value, changed } = redact(body);
    assert.equal(changed, true);
    assert.deepEqual(value, {
      params: { message: { parts: [{ kind: 'text', text: REDACTED }, { kind: 'data', data: 1 }, { text: REDACTED }] } },
      customer: { email: REDACTED, name: 'A' },
      login: { password: REDACTED },
    });
    assert.deepEqual(body, copy, 'the input is not modified');
    assert.equal(redact({ other: 1 }).changed, false);
  });

  test('what is stored is what is hashed: the redacted JSON when a path matched, else the original text', async () => {
    const redact = createRedactor(['payload.ssn']);
    const original = '{"workflow_id":"w","task_type":"x","payload":{"ssn":"123-45-6789","n":1}}';
    const row = auditRowValues(await eventOf(original), '-1', redact);
    assert.equal(row.payload_encoding, 'json-redacted');
    assert.ok(!String(row.payload).includes('123-45-6789'));
    assert.ok(!rowBytes(row).includes('123-45-6789'), 'the hashed bytes hold the redacted payload only');
    const untouched = auditRowValues(await eventOf('{ "workflow_id": "w",  "result": 2 }'), '-1', redact);
    assert.deepEqual(
      [untouched.payload_encoding, Buffer.from(untouched.payload).toString()],
      ['text', '{ "workflow_id": "w",  "result": 2 }'],
    );
    const garbage = auditRowValues(await eventOf(Buffer.from([0xff, 0xfe])), '-1', createRedactor([], 'store'));
    assert.deepEqual([garbage.payload_encoding, Buffer.from(garbage.payload)], ['bytes', Buffer.from([0xff, 0xfe])]);
  });
});
