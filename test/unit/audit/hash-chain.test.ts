import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chainHash, createRedactor, HASHED_FIELDS, REDACTED, toAuditRow } from '../../../src/audit/index.js';
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
    assert.notEqual(toAuditRow(event, '-1', 'different-previous', noRedaction).hash, first.hash, 'the previous hash is part of the hash');
  });

  test('changing any hashed field changes the hash', async () => {
    const row = toAuditRow(await eventOf({ workflow_id: 'w', task_type: 'x', payload: { n: 1 } }), '-1', '', noRedaction);
    for (const field of HASHED_FIELDS) {
      const value = row[field];
      const altered = { ...row, [field]: field === 'headers' ? { injected: 'yes' } : typeof value === 'number' ? value + 1 : `${String(value)}!` };
      assert.notEqual(chainHash(row.prev_hash, altered), row.hash, `a change to ${field} goes unnoticed`);
    }
  });
});

describe('redaction', () => {
  test('masks the configured paths, with * for any key or array item, without touching the input', () => {
    const redact = createRedactor(['params.message.parts.*.text', 'customer.email', '*.password']);
    const body = { params: { message: { parts: [{ kind: 'text', text: 'secret 1' }, { kind: 'data', data: 1 }, { text: 'secret 2' }] } }, customer: { email: 'a@b.c', name: 'A' }, login: { password: 'pw' } };
    const copy = structuredClone(body);
    const { value, changed } = redact(body);
    assert.equal(changed, true);
    assert.deepEqual(value, {
      params: { message: { parts: [{ kind: 'text', text: REDACTED }, { kind: 'data', data: 1 }, { text: REDACTED }] } },
      customer: { email: REDACTED, name: 'A' }, login: { password: REDACTED },
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
