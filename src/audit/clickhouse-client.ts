// The one ClickHouse client factory: the embedded engine (chdb, in a child process that owns the data
// directory: engine-process.ts) by default, a ClickHouse server when CLICKHOUSE_URL is set. Both come back as an @clickhouse/client ClickHouseClient whose
// current database is CLICKHOUSE_DATABASE, so nothing above this file knows which one it got.

import { randomUUID } from 'node:crypto';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseConfig } from '../config/index.js';
import { AgentwatchError, messageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { openEngineProcess, type EngineProcess } from './engine-process.js';

export type { ClickHouseClient };

type ClientConnection = NonNullable<Parameters<typeof createClient>[0]>['connection'];

/** Opens the configured ClickHouse, creates the database if needed, and answers SELECT 1 before returning. */
export async function createClickHouseClient(config: ClickHouseConfig, logger?: Logger): Promise<ClickHouseClient> {
  const client = config.url === undefined ? await openEmbedded(config, logger) : await openServer(config);
  await pingClickHouse(client, config);
  return client;
}

async function openServer(config: ClickHouseConfig): Promise<ClickHouseClient> {
  const common = {
    url: config.url,
    username: config.username,
    password: config.password ?? '',
    request_timeout: config.requestTimeoutMs,
  };
  // The database may not exist yet, so it is created through a client bound to no database.
  const bootstrap = createClient(common);
  try {
    await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${config.database}` });
  } catch (err) {
    throw unavailable(config, err);
  } finally {
    await bootstrap.close();
  }
  return createClient({ ...common, database: config.database });
}

async function openEmbedded(config: ClickHouseConfig, logger: Logger | undefined): Promise<ClickHouseClient> {
  const dataDir = resolve(config.dataDir);
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (err) {
    throw new AgentwatchError(
      'AW_CONFIG_INVALID',
      `CLICKHOUSE_DATA_DIR=${config.dataDir} cannot be created (${messageOf(err)}); point it at a writable directory.`,
      { cause: err },
    );
  }
  const connection = await openEngineProcess({
    dataDir,
    database: config.database,
    requestTimeoutMs: config.requestTimeoutMs,
    logger,
  });
  // The connection implements the contract of @clickhouse/client's connections (as chdb's own does);
  // its types are structural, so only the cast names the contract.
  const client = createClient({
    connection: connection as unknown as ClientConnection,
    request_timeout: config.requestTimeoutMs,
  });
  Object.defineProperty(client, EMBEDDED, { value: connection.engine });
  return client;
}

/** Marks a client opened on the embedded engine (whose inserts take their binary body from a file); a property, so a wrapper that forwards gets sees it too. */
const EMBEDDED = Symbol('agentwatch.embedded');

function isEmbedded(client: ClickHouseClient): boolean {
  return embeddedEngine(client) !== undefined;
}

/** The engine process behind a client opened on the embedded engine; undefined for a server. */
export function embeddedEngine(client: ClickHouseClient): EngineProcess | undefined {
  return (client as unknown as Record<symbol, EngineProcess | undefined>)[EMBEDDED];
}

/** Where embedded inserts stage their body: memory-backed when the machine has /dev/shm. */
const STAGING_DIR = (() => {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
})();

/**
 * Inserts `body`, rows in RowBinary, into `table` (columns in `columns` order). To a server, the body
 * is the request body of the INSERT. The embedded engine's connection reads an insert body as UTF-8
 * text (which would corrupt binary rows), so there the body is written to a file, in memory where
 * the machine allows, and read with INSERT … FROM INFILE, which passes the bytes through unchanged
 * (a test inserts and reads back a 30,000-row batch of non-UTF-8 bytes).
 */
export async function insertRowBinary(
  client: ClickHouseClient,
  table: string,
  columns: readonly string[],
  body: Buffer,
): Promise<void> {
  const into = `INSERT INTO ${table} (${columns.join(', ')})`;
  if (!isEmbedded(client)) {
    const result = await client.exec({ query: `${into} FORMAT RowBinary`, values: Readable.from([body]) });
    result.stream.resume();
    return;
  }
  let file = join(STAGING_DIR, `agentwatch-insert-${process.pid}-${randomUUID()}.bin`);
  try {
    try {
      await writeFile(file, body);
    } catch (err) {
      // /dev/shm is small in containers (64 MiB by default in Docker): fall back to the disk.
      if ((err as { code?: unknown }).code !== 'ENOSPC' || STAGING_DIR === tmpdir()) throw err;
      await rm(file, { force: true });
      file = join(tmpdir(), `agentwatch-insert-${process.pid}-${randomUUID()}.bin`);
      await writeFile(file, body);
    }
    await client.command({ query: `${into} FROM INFILE '${file}' FORMAT RowBinary` });
  } finally {
    await rm(file, { force: true });
  }
}

/** SELECT 1 against the client; throws a retryable AW_CLICKHOUSE_UNAVAILABLE when it does not answer. */
export async function pingClickHouse(client: ClickHouseClient, config: ClickHouseConfig): Promise<void> {
  try {
    const result = await client.query({ query: 'SELECT 1 AS ok', format: 'JSONEachRow' });
    const rows = await result.json<{ ok: number }>();
    if (rows[0]?.ok !== 1) throw new Error(`SELECT 1 returned ${JSON.stringify(rows)}`);
  } catch (err) {
    throw unavailable(config, err);
  }
}

export function describeClickHouse(config: ClickHouseConfig): string {
  return config.url === undefined
    ? `embedded chdb at ${resolve(config.dataDir)}`
    : `server at ${redactUrl(config.url)}`;
}

function unavailable(config: ClickHouseConfig, err: unknown): AgentwatchError {
  return new AgentwatchError(
    'AW_CLICKHOUSE_UNAVAILABLE',
    `ClickHouse (${describeClickHouse(config)}) did not answer: ${messageOf(err)}. Check CLICKHOUSE_URL, CLICKHOUSE_USER and CLICKHOUSE_PASSWORD, or unset CLICKHOUSE_URL for the embedded engine.`,
    { cause: err, retryable: true },
  );
}

/** A URL without its user-info part, safe for logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(unparseable URL)';
  }
}
