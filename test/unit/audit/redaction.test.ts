// Redaction covers every path a payload takes: parsed values have AUDIT_REDACT_PATHS masked, and a
// value that cannot be parsed (where no path can apply) is kept as AUDIT_UNPARSED_PAYLOAD says,
// whose default with redaction configured keeps only its hash.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Producer, ProducerRecord } from 'kafkajs';
import { auditRowValues, createRedactor, RowBinaryWriter, writeHashedColumns } from '../../../src/audit/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { RecordDecoder } from '../../../src/decode/index.js';
import { DLQ_HEADERS, DlqWriter } from '../../../src/ingest/index.js';
import { record } from '../../fixtures/records.js';

const decoder = new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes: 1 << 20 });
const SECRET = 'sk-live-7f3a9c';
const malformed = `{"workflow_id": "w", "password": "${SECRET}", oops`;

/** The row's hashed bytes as text (latin1: every byte one character), to search for a secret. */
function stored(values: ReturnType<typeof auditRowValues>): string {
  const out = new RowBinaryWriter(256);
  writeHashedColumns(out, values);
  return Buffer.from(out.bytes()).toString('latin1');
}

async function eventOf(value: unknown) {
  return (await decoder.decode([record('agent.tasks.x', value)]))[0]!;
}

describe('redaction', () => {
  test('AUDIT_UNPARSED_PAYLOAD defaults to hash-only once AUDIT_REDACT_PATHS is set, store otherwise', () => {
    assert.equal(loadConfig({ AUDIT_REDACT_PATHS: 'password' }).audit.unparsedPayload, 'hash-only');
    assert.equal(loadConfig({}).audit.unparsedPayload, 'store');
    assert.equal(
      loadConfig({ AUDIT_REDACT_PATHS: 'password', AUDIT_UNPARSED_PAYLOAD: 'store' }).audit.unparsedPayload,
      'store',
    );
    assert.throws(
      () => loadConfig({ AUDIT_UNPARSED_PAYLOAD: 'keep' }),
      /AUDIT_UNPARSED_PAYLOAD="keep" is not one of store, hash-only, drop-value/,
    );
  });

  test('a secret in a parsed payload is masked; in an unparsable one it is in no stored column under the default', async () => {
    const config = loadConfig({ AUDIT_REDACT_PATHS: 'password' });
    const redact = createRedactor(config.audit.redactPaths, config.audit.unparsedPayload);
    const parsed = auditRowValues(await eventOf({ workflow_id: 'w', password: SECRET }), '-1', redact);
    assert.doesNotMatch(stored(parsed), new RegExp(SECRET));
    const event = await eventOf(malformed);
    assert.equal(event.dlqReason, 'invalid-json');
    const row = auditRowValues(event, '-1', redact);
    assert.doesNotMatch(stored(row), new RegExp(SECRET));
    assert.doesNotMatch(stored(row), new RegExp(Buffer.from(SECRET).toString('base64').slice(0, 8)));
    assert.deepEqual(
      [row.payload, row.payload_encoding],
      [createHash('sha256').update(malformed).digest('hex'), 'sha256'],
    );
  });

  test('drop-value keeps nothing of the value; store keeps its bytes', async () => {
    const event = await eventOf(malformed);
    const dropped = auditRowValues(event, '-1', createRedactor(['password'], 'drop-value'));
    assert.deepEqual(
      [dropped.payload, dropped.payload_encoding, dropped.payload_bytes],
      ['', 'dropped', Buffer.byteLength(malformed)],
    );
    const kept = auditRowValues(event, '-1', createRedactor([], 'store'));
    assert.deepEqual([Buffer.from(kept.payload).toString(), kept.payload_encoding], [malformed, 'bytes']);
  });

  test('DLQ copies follow the policy: under hash-only and drop-value a reference stands for the value', async () => {
    const event = await eventOf(malformed);
    for (const policy of ['hash-only', 'drop-value'] as const) {
      const sent: ProducerRecord[] = [];
      const producer = {
        send: async (r: ProducerRecord) => {
          sent.push(r);
          return [];
        },
      } as unknown as Producer;
      await new DlqWriter(producer, 'dlq', 1_048_588, policy).write([event]);
      const [copy] = sent.flatMap((r) => r.messages);
      assert.equal(copy!.headers?.[DLQ_HEADERS.reference], policy);
      assert.doesNotMatch(String(copy!.value), new RegExp(SECRET), policy);
      assert.doesNotMatch(JSON.stringify(copy!.headers), new RegExp(SECRET), policy);
      const reference = JSON.parse(String(copy!.value)) as { sha256?: string; size: number };
      assert.equal(reference.size, Buffer.byteLength(malformed));
      assert.equal(reference.sha256 !== undefined, policy === 'hash-only');
    }
  });
});
