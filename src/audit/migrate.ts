// Applies the migrations not yet recorded in schema_migrations, in order.

import type { ClickHouseClient } from '@clickhouse/client';
import { AgentwatchError, messageOf } from '../errors.js';
import { MIGRATIONS, retentionClause } from './migrations.js';

export interface MigrationResult {
  applied: number[];
  current: number;
}

export async function migrate(client: ClickHouseClient, options: { retentionDays: number }): Promise<MigrationResult> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC'))
            ENGINE = MergeTree ORDER BY version`,
  });
  const done = new Set(
    (
      await (
        await client.query({ query: 'SELECT version FROM schema_migrations', format: 'JSONEachRow' })
      ).json<{ version: number }>()
    ).map((r) => Number(r.version)),
  );
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    if (done.has(migration.version)) continue;
    for (const statement of migration.statements) {
      try {
        await client.command({
          query: statement
            .replace('{retention}', retentionClause(options.retentionDays))
            .replace('{outcome_retention}', retentionClause(options.retentionDays, 'written_at')),
        });
      } catch (err) {
        throw new AgentwatchError(
          'AW_CLICKHOUSE_UNAVAILABLE',
          `migration ${migration.version} (${migration.name}) failed: ${messageOf(err)}`,
          { cause: err },
        );
      }
    }
    await client.insert({
      table: 'schema_migrations',
      format: 'JSONEachRow',
      values: [{ version: migration.version, name: migration.name, applied_at: Date.now() }],
    });
    applied.push(migration.version);
  }
  return { applied, current: MIGRATIONS[MIGRATIONS.length - 1]!.version };
}
