// Builds the Confluent-compatible schema registry client and probes the registry.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { SchemaRegistryConfig } from '../config/index.js';
import { AgentwatchError, messageOf } from '../errors.js';

export function createSchemaRegistry(config: SchemaRegistryConfig): SchemaRegistry {
  const auth = config.username !== undefined && config.password !== undefined
    ? { username: config.username, password: config.password }
    : undefined;
  return new SchemaRegistry({ host: config.url, ...(auth === undefined ? {} : { auth }) });
}

/** GET /subjects; returns how many subjects the registry holds. Throws a retryable AW_REGISTRY_UNAVAILABLE. */
export async function probeSchemaRegistry(config: SchemaRegistryConfig, timeoutMs = 10_000): Promise<number> {
  const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json' };
  if (config.username !== undefined && config.password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}`;
  }
  try {
    const response = await fetch(`${config.url}/subjects`, { headers, signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    const subjects: unknown = await response.json();
    if (!Array.isArray(subjects)) throw new Error('GET /subjects did not return a JSON array; is this a Confluent-compatible registry?');
    return subjects.length;
  } catch (err) {
    throw new AgentwatchError(
      'AW_REGISTRY_UNAVAILABLE',
      `the schema registry at ${config.url} did not answer GET /subjects: ${messageOf(err)}. Check SCHEMA_REGISTRY_URL (Apicurio needs the /apis/ccompat/v7 path) and SCHEMA_REGISTRY_USERNAME/PASSWORD.`,
      { cause: err, retryable: true },
    );
  }
}
