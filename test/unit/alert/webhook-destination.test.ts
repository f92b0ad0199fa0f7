import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { safeUrl, webhookSignature } from '../../../src/alert/index.js';

test('the signature is HMAC-SHA256 of "<timestamp>.<body>", hex, with a version prefix', () => {
  const expected = createHmac('sha256', 'k').update('1700000000.{"a":1}').digest('hex');
  assert.equal(webhookSignature('k', '1700000000', '{"a":1}'), `v1=${expected}`);
  assert.notEqual(webhookSignature('k', '1700000001', '{"a":1}'), `v1=${expected}`, 'the timestamp is signed');
  assert.notEqual(webhookSignature('other', '1700000000', '{"a":1}'), `v1=${expected}`);
});

test('URLs in logs and metrics lose credentials, query and fragment', () => {
  assert.equal(safeUrl('https://user:pass@hooks.example.com/T1/B2?token=secret#x'), 'https://hooks.example.com/T1/B2');
  assert.equal(safeUrl('not a url'), '(invalid URL)');
});
