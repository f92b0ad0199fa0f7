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

test('URLs in logs and metrics keep scheme and host only, and a hash that tells them apart', () => {
  const slack = safeUrl('https://user:pass@hooks.example.com/services/T1/B2/s3cr3t?token=secret#x');
  assert.match(slack, /^https:\/\/hooks\.example\.com\/…#[0-9a-f]{8}$/);
  assert.doesNotMatch(slack, /s3cr3t|secret|user|pass|T1/);
  assert.notEqual(safeUrl('https://hooks.example.com/a'), safeUrl('https://hooks.example.com/b'));
  assert.equal(safeUrl('http://127.0.0.1:9093/'), 'http://127.0.0.1:9093');
  assert.equal(safeUrl('not a url'), '(invalid URL)');
});
