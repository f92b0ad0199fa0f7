// agentwatch reaches a broker over TLS with a client certificate (mutual TLS), verifies the broker
// against the CA it is given, and fails with AW_KAFKA_UNAVAILABLE without a client certificate or
// without the CA. The local broker has an SSL listener that requires client certificates.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { isAgentwatchError } from '../../src/errors.js';
import { createKafka, probeKafka } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { stackTls } from '../../bench/local-stack.js';

const logger = createLogger('fatal');

async function probe(env: Record<string, string>) {
  const config = loadConfig({
    KAFKA_TLS: 'true',
    KAFKA_CONNECTION_TIMEOUT_MS: '3000',
    KAFKA_REQUEST_TIMEOUT_MS: '5000',
    ...env,
  });
  return probeKafka(createKafka(config.kafka, logger), config.kafka);
}

test('mutual TLS with the CA and a client certificate connects', async () => {
  const tls = stackTls();
  const ok = await probe({
    KAFKA_BROKERS: tls.brokers,
    KAFKA_TLS_CA_FILE: tls.ca,
    KAFKA_TLS_CERT_FILE: tls.cert,
    KAFKA_TLS_KEY_FILE: tls.key,
  });
  assert.equal(ok.brokers, 1);
});

test('without a client certificate the broker refuses; without the CA agentwatch refuses the broker', async () => {
  const tls = stackTls();
  await assert.rejects(probe({ KAFKA_BROKERS: tls.brokers, KAFKA_TLS_CA_FILE: tls.ca }), (err: unknown) =>
    isAgentwatchError(err, 'AW_KAFKA_UNAVAILABLE'),
  );
  await assert.rejects(
    probe({ KAFKA_BROKERS: tls.brokers, KAFKA_TLS_CERT_FILE: tls.cert, KAFKA_TLS_KEY_FILE: tls.key }),
    (err: unknown) => isAgentwatchError(err, 'AW_KAFKA_UNAVAILABLE') && /certificate/i.test(err.message),
  );
});
