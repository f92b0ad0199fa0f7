import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonical, chainHash, createRedactor, HASHED_FIELDS, REDACTED, toAuditRow } from '../../../src/audit/index.js';
import { clickhouseTime } from '../../../src/audit/audit-row.js';
import { RecordDecoder } from '../../../src/decode/index.js';
import { record } from '../../fixtures/records.js';

const decoder = new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes: 1 << 20 });
const noRedaction = createRedactor([]);

async function eventOf(value: unknown, extra = {}) {
  return (await decoder.decode([record('agent.tasks.x', value, extra)]))[0]!;
}

describe('the audit hash chain', () => {
  test('each row hashes its predecessor: same input, same hash; header order does not matter', async () => {
    const event = await eventOf({ workflow_id: 'w', task_type: 'x', payload: {} }, { headers: { b: '2', a: '1' } });
    const first = toAuditRow(event, '-1', '', noRedaction);
    const again = toAuditRow({ ...event, headers: { a: '1', b: '2' } }, '-1', '', noRedaction);
    assert.equal(first.hash, again.hash);
    assert.match(first.hash, /^[0-9a-f]{64}$/);
    const next = toAuditRow(await eventOf({ workflow_id: 'w', result: 1 }), event.offset, first.hash, noRedaction);
    assert.equal(next.prev_hash, first.hash);
    assert.equal(next.hash, chainHash(first.hash, next));
    assert.notEqual(
      toAuditRow(event, '-1', 'different-previous', noRedaction).hash,
      first.hash,
      'the previous hash is part of the hash',
    );
  });

  test('the chain format is stable: a fixed row has the hash every stored chain was computed with', () => {
    // If this fails, stored audit trails no longer verify: the canonical form must never change.
    const row = {
      topic: 'agent.tasks.x',
      partition: 3,
      offset: '42',
      prev_offset: '41',
      ts: 1700000000123,
      key: 'wf-"1"',
      headers: { 'z-h': 'é', a: 'tab\there' },
      agent: 'x',
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
    assert.equal(chainHash('abc', row), '1d3c831a50bdbc79a3007278eb4a8ebc05fc5f90c3944314930412cd96628aee');
  });

  test('the canonical form is the JSON array of every hashed field as a string, headers as sorted pairs', () => {
    // The definition, written plainly; canonical() is the fast version of it.
    const reference = (row: Record<string, unknown>) =>
      JSON.stringify(
        HASHED_FIELDS.map((field) =>
          field === 'headers'
            ? Object.entries(row[field] as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            : String(row[field]),
        ),
      );
    const texts = [
      '',
      'plain',
      'quote " and \\ backslash',
      'tab\t nl\n nul\u0000',
      'é ☃ 😀',
      'lone \ud800 surrogate',
      '\u2028\u2029',
      '</script>',
    ];
    for (let i = 0; i < 200; i += 1) {
      const pick = (n: number) => texts[(i * 7 + n * 13) % texts.length]!;
      const row = Object.fromEntries(
        HASHED_FIELDS.map((field, n) => [field, n % 3 === 0 ? i * n - 50 : n % 3 === 1 ? pick(n) : String(i + n)]),
      ) as Record<string, unknown>;
      row.headers = Object.fromEntries([
        [pick(1), pick(2)],
        [pick(3), pick(4)],
        ['a', pick(5)],
      ]);
      assert.equal(canonical(row as never), reference(row), `row ${i}`);
    }
  });

  test('ClickHouse time text is exact to the millisecond', () => {
    for (const ms of [
      0, 999, 1000, 1_700_000_000_123, 1_700_000_000_999, 1_700_000_001_000, 1_700_000_000_007, -1, -1001,
      253_402_300_799_999,
    ]) {
      assert.equal(clickhouseTime(ms), new Date(ms).toISOString().replace('T', ' ').replace('Z', ''), `${ms}`);
    }
  });

  test('changing any hashed field changes the hash', async () => {
    const row = toAuditRow(
      await eventOf({ workflow_id: 'w', task_type: 'x', payload: { n: 1 } }),
      '-1',
      '',
      noRedaction,
    );
    for (const field of HASHED_FIELDS) {
      const value = row[field];
      const altered = {
        ...row,
        [field]:
          field === 'headers'
            ? { injected: 'yes' }
            : typeof value === 'number'
              ? value + 1
              : `${JSON.stringify(value)}!`,
      };
      assert.notEqual(chainHash(row.prev_hash, altered), row.hash, `a change to ${field} goes unnoticed`);
    }
  });
});

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
    const row = toAuditRow(await eventOf(original), '-1', '', redact);
    assert.equal(row.payload_encoding, 'json-redacted');
    assert.ok(!row.payload.includes('123-45-6789'));
    assert.equal(row.hash, chainHash('', row), 'the hash covers the redacted payload');
    const untouched = toAuditRow(await eventOf('{ "workflow_id": "w",  "result": 2 }'), '-1', '', redact);
    assert.deepEqual([untouched.payload_encoding, untouched.payload], ['text', '{ "workflow_id": "w",  "result": 2 }']);
    const garbage = toAuditRow(await eventOf(Buffer.from([0xff, 0xfe])), '-1', '', redact);
    assert.deepEqual([garbage.payload_encoding, garbage.payload], ['base64', '//4=']);
  });
});
