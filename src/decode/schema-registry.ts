// Builds the Confluent-compatible schema registry client and probes the registry.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import type { SchemaRegistryConfig } from '../config/index.js';
import { AgentwatchError, messageOf } from '../errors.js';
import type { RegisteredSchema, SchemaSource } from './record-decoder.js';

export function createSchemaRegistry(config: SchemaRegistryConfig): SchemaRegistry {
  const auth =
    config.username !== undefined && config.password !== undefined
      ? { username: config.username, password: config.password }
      : undefined;
  return new SchemaRegistry({ host: config.url, ...(auth === undefined ? {} : { auth }) });
}

function authHeaders(config: SchemaRegistryConfig): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json' };
  if (config.username !== undefined && config.password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${config.username}:${config.password}`).toString('base64')}`;
  }
  return headers;
}

/**
 * Resolves schema ids with GET /schemas/ids/{id}: 404 means the registry does not know the id
 * (the record is undecodable), any other failure is a retryable AW_REGISTRY_UNAVAILABLE.
 * Avro schemas with references are handed to the registry client, which resolves them.
 */
export function registrySchemaSource(config: SchemaRegistryConfig, timeoutMs = 10_000): SchemaSource {
  const client = createSchemaRegistry(config);
  return {
    async schemaById(id: number): Promise<RegisteredSchema | undefined> {
      let response: Response;
      try {
        response = await fetch(`${config.url}/schemas/ids/${id}`, {
          headers: authHeaders(config),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw registryUnavailable(config, `GET /schemas/ids/${id}`, err);
      }
      if (response.status === 404) return undefined;
      if (!response.ok)
        throw registryUnavailable(config, `GET /schemas/ids/${id}`, new Error(`HTTP ${response.status}`));
      const found = (await response.json()) as { schema: string; schemaType?: string; references?: unknown[] };
      const schemaType = (found.schemaType ?? 'AVRO').toUpperCase();
      if (schemaType === 'JSON') return { format: 'json' };
      if (schemaType === 'PROTOBUF') return { format: 'protobuf' };
      if (Array.isArray(found.references) && found.references.length > 0) {
        return { format: 'avro', type: (await client.getSchema(id)) as avro.Type };
      }
      return { format: 'avro', type: avro.Type.forSchema(JSON.parse(found.schema) as avro.Schema) };
    },
  };
}

function registryUnavailable(config: SchemaRegistryConfig, request: string, err: unknown): AgentwatchError {
  return new AgentwatchError(
    'AW_REGISTRY_UNAVAILABLE',
    `the schema registry at ${config.url} did not answer ${request}: ${messageOf(err)}. Check SCHEMA_REGISTRY_URL (Apicurio needs the /apis/ccompat/v7 path) and SCHEMA_REGISTRY_USERNAME/PASSWORD.`,
    { cause: err, retryable: true },
  );
}

/** GET /subjects; returns how many subjects the registry holds. Throws a retryable AW_REGISTRY_UNAVAILABLE. */
export async function probeSchemaRegistry(config: SchemaRegistryConfig, timeoutMs = 10_000): Promise<number> {
  try {
    const response = await fetch(`${config.url}/subjects`, {
      headers: authHeaders(config),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    const subjects: unknown = await response.json();
    if (!Array.isArray(subjects))
      throw new Error('GET /subjects did not return a JSON array; is this a Confluent-compatible registry?');
    return subjects.length;
  } catch (err) {
    throw registryUnavailable(config, 'GET /subjects', err);
  }
}
