// Where the integration tests find the real stack: the environment, else .stack/env written by
// `scripts/stack.sh up`. Tests fail with a clear message when the stack is not there.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../src/config/index.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function stackEnvFile(): Record<string, string> {
  const file = `${process.env.AGENTWATCH_STACK_DIR ?? `${repoRoot}.stack`}/env`;
  if (!existsSync(file)) return {};
  const values: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return values;
}

/** The SASL listener of the local stack: broker address and its test credentials. */
export function stackSasl(): { brokers: string; username: string; password: string } {
  const env = { ...stackEnvFile(), ...process.env };
  const brokers = env.STACK_KAFKA_SASL_BROKERS;
  if (brokers === undefined)
    throw new Error(
      'the local stack has no SASL listener: run `scripts/stack.sh up` (it writes STACK_KAFKA_SASL_BROKERS to .stack/env).',
    );
  return { brokers, username: env.STACK_KAFKA_SASL_USERNAME ?? '', password: env.STACK_KAFKA_SASL_PASSWORD ?? '' };
}

/** The TLS listener of the local stack (client certificates required) and its test CA and client certificate. */
export function stackTls(): { brokers: string; ca: string; cert: string; key: string } {
  const env = { ...stackEnvFile(), ...process.env };
  const brokers = env.STACK_KAFKA_TLS_BROKERS;
  const dir = env.STACK_TLS_DIR;
  if (brokers === undefined || dir === undefined)
    throw new Error(
      'the local stack has no TLS listener: run `scripts/stack.sh up` (it writes STACK_KAFKA_TLS_BROKERS to .stack/env).',
    );
  return { brokers, ca: `${dir}/ca.pem`, cert: `${dir}/client.crt`, key: `${dir}/client.key` };
}

/** The Config integration tests use: the real stack's addresses, plus any overrides. */
export function stackConfig(overrides: Record<string, string> = {}): Config {
  const fromStack = stackEnvFile();
  if (process.env.KAFKA_BROKERS === undefined && fromStack.KAFKA_BROKERS === undefined) {
    throw new Error(
      'no local stack found: run `scripts/stack.sh up` first (or set KAFKA_BROKERS and SCHEMA_REGISTRY_URL).',
    );
  }
  return loadConfig({ ...fromStack, ...process.env, LOG_LEVEL: 'warn', ...overrides });
}
