import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeOptions, loadConfig } from '../../../src/config/index.js';
import { AgentwatchError } from '../../../src/errors.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof AgentwatchError);
    assert.equal(err.code, 'AW_CONFIG_INVALID');
    return err.context.problems as string[];
  }
  assert.fail('expected AW_CONFIG_INVALID');
}

test('defaults reach the local stack and the embedded engine', () => {
  const config = loadConfig({});
  assert.deepEqual(config.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(config.kafka.groupId, 'agentwatch');
  assert.equal(config.kafka.sasl, undefined);
  assert.equal(config.kafka.tls, undefined);
  assert.equal(config.clickhouse.url, undefined, 'no CLICKHOUSE_URL means the embedded engine');
  assert.equal(config.clickhouse.database, 'agentwatch');
  assert.equal(config.logLevel, 'info');
});

test('every problem is reported at once, each naming its variable', () => {
  const problems = problemsOf({
    KAFKA_BROKERS: 'broker-without-port,ok:9092,bad:70000',
    KAFKA_CONNECTION_TIMEOUT_MS: 'soon',
    KAFKA_REQUEST_TIMEOUT_MS: '5',
    SCHEMA_REGISTRY_URL: 'ftp://registry',
    CLICKHOUSE_DATABASE: 'drop table; --',
    KAFKA_TLS: 'maybe',
  });
  const joined = problems.join('\n');
  assert.equal(problems.length, 7, joined);
  for (const name of [
    '"broker-without-port"',
    '"bad:70000"',
    'KAFKA_CONNECTION_TIMEOUT_MS',
    'KAFKA_REQUEST_TIMEOUT_MS=5',
    'SCHEMA_REGISTRY_URL',
    'CLICKHOUSE_DATABASE',
    'KAFKA_TLS=',
  ]) {
    assert.ok(joined.includes(name), `no problem mentions ${name}:\n${joined}`);
  }
});

test('SASL needs both credentials, and they are kept', () => {
  assert.match(
    problemsOf({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' }).join(),
    /needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
  );
  const config = loadConfig({
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_PASSWORD: 'p',
  });
  assert.deepEqual(config.kafka.sasl, { mechanism: 'scram-sha-256', username: 'u', password: 'p' });
});

test('TLS reads the PEM files it names, and says which one it cannot read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aw-config-'));
  writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
  const config = loadConfig({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: join(dir, 'ca.pem') });
  assert.deepEqual(config.kafka.tls, { ca: 'CA PEM', cert: undefined, key: undefined, rejectUnauthorized: true });
  const problems = problemsOf({
    KAFKA_TLS: 'true',
    KAFKA_TLS_CERT_FILE: join(dir, 'missing.pem'),
    KAFKA_TLS_KEY_FILE: join(dir, 'ca.pem'),
  });
  assert.match(problems.join(), /KAFKA_TLS_CERT_FILE=.*missing\.pem cannot be read \(ENOENT\)/);
});

test('a config file is read, the environment wins, and unknown keys are reported', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aw-config-'));
  const file = join(dir, 'agentwatch.json');
  writeFileSync(
    file,
    JSON.stringify({ KAFKA_BROKERS: ['a:1', 'b:2'], KAFKA_CLIENT_ID: 'from-file', LOG_LEVEL: 'debug' }),
  );
  const config = loadConfig({ AGENTWATCH_CONFIG: file, KAFKA_CLIENT_ID: 'from-env' });
  assert.deepEqual(config.kafka.brokers, ['a:1', 'b:2']);
  assert.equal(config.kafka.clientId, 'from-env');
  assert.equal(config.logLevel, 'debug');

  writeFileSync(file, JSON.stringify({ KAFKA_BROKER: 'typo:9092' }));
  assert.match(problemsOf({ AGENTWATCH_CONFIG: file }).join(), /unknown option "KAFKA_BROKER"/);
  writeFileSync(file, '{ not json');
  assert.match(problemsOf({ AGENTWATCH_CONFIG: file }).join(), /not valid JSON/);
});

test('secrets are documented as secrets and never shown as defaults', () => {
  const secrets = describeOptions()
    .filter((o) => o.type === 'secret')
    .map((o) => o.name);
  assert.deepEqual(secrets.sort(), [
    'ALERT_WEBHOOK_SECRET',
    'CLICKHOUSE_PASSWORD',
    'KAFKA_SASL_PASSWORD',
    'SCHEMA_REGISTRY_PASSWORD',
  ]);
});
