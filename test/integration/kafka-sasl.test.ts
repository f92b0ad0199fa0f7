// agentwatch reaches a secured broker with each SASL mechanism it offers, and a wrong password or a
// missing SASL setting fails with AW_KAFKA_UNAVAILABLE instead of hanging. The local broker has a
// SASL_PLAINTEXT listener with PLAIN and SCRAM credentials (scripts/stack.sh).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { isAgentwatchError } from '../../src/errors.js';
import { createKafka, probeKafka } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { stackSasl } from '../../bench/local-stack.js';

const logger = createLogger('fatal');

async function probe(env: Record<string, string>) {
  const config = loadConfig({ KAFKA_CONNECTION_TIMEOUT_MS: '3000', KAFKA_REQUEST_TIMEOUT_MS: '5000', ...env });
  return probeKafka(createKafka(config.kafka, logger), config.kafka);
}

for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
  test(`SASL ${mechanism}: the right credentials connect, a wrong password is refused`, async () => {
    const sasl = stackSasl();
    const ok = await probe({
      KAFKA_BROKERS: sasl.brokers,
      KAFKA_SASL_MECHANISM: mechanism,
      KAFKA_SASL_USERNAME: sasl.username,
      KAFKA_SASL_PASSWORD: sasl.password,
    });
    assert.equal(ok.brokers, 1);
    await assert.rejects(
      probe({
        KAFKA_BROKERS: sasl.brokers,
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_SASL_USERNAME: sasl.username,
        KAFKA_SASL_PASSWORD: 'wrong',
      }),
      (err: unknown) => isAgentwatchError(err, 'AW_KAFKA_UNAVAILABLE') && !err.message.includes('wrong'),
    );
  });
}

test('without SASL settings, the secured listener does not let agentwatch in', async () => {
  await assert.rejects(probe({ KAFKA_BROKERS: stackSasl().brokers }), (err: unknown) =>
    isAgentwatchError(err, 'AW_KAFKA_UNAVAILABLE'),
  );
});
