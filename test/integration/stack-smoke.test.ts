// Smoke test of the real local stack: Avro through the schema registry over a real Kafka broker,
// and a table round trip through the ClickHouse client factory.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { Partitioners, type Kafka } from 'kafkajs';
import { createClickHouseClient } from '../../src/audit/index.js';
import type { Config } from '../../src/config/index.js';
import { createSchemaRegistry } from '../../src/decode/index.js';
import { createKafka } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logger.js';
import { repoRoot, stackConfig } from '../../bench/local-stack.js';

describe('local stack smoke', () => {
  let config: Config;
  let kafka: Kafka;

  before(() => {
    config = stackConfig();
    kafka = createKafka(config.kafka, createLogger('warn'));
  });

  test('an Avro record registered, produced, consumed and decoded through the real registry and broker', async () => {
    const topic = `smoke.avro.${randomUUID()}`;
    const registry = createSchemaRegistry(config.schemaRegistry);
    const schema = readFileSync(join(repoRoot, 'schemas/a2a-envelope.avsc'), 'utf8');
    const { id } = await registry.register({ type: SchemaType.AVRO, schema }, { subject: `${topic}-value` });
    assert.ok(Number.isInteger(id) && id > 0, `registry returned schema id ${id}`);

    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }), true);
    } finally {
      await admin.disconnect();
    }

    const envelope = {
      workflow_id: 'wf-1',
      task_type: 'summarize',
      task_id: 't-1',
      payload: '{"text":"hello"}',
      a2a_version: '1.0',
    };
    const value = await registry.encode(id, envelope);
    // Confluent wire format: magic byte 0, then the 4-byte big-endian schema id.
    assert.equal(value[0], 0);
    assert.equal(value.readUInt32BE(1), id);

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: [{ key: envelope.workflow_id, value }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const received = await new Promise<{ key: string; decoded: unknown }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no record consumed within 30 s')), 30_000);
        void consumer
          .run({
            eachMessage: async ({ message }) => {
              clearTimeout(timer);
              // avsc decodes into an instance of the record's class; compare its fields.
              resolve({
                key: message.key?.toString() ?? '',
                decoded: { ...(await registry.decode(message.value ?? Buffer.alloc(0))) },
              });
            },
          })
          .catch(reject);
      });
      assert.equal(received.key, 'wf-1');
      assert.deepEqual(received.decoded, envelope);
    } finally {
      await consumer.disconnect();
    }
  });

  describe('ClickHouse through the client factory', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aw-smoke-ch-'));
    after(() => rmSync(dataDir, { recursive: true, force: true }));

    test('creates a table, inserts rows and reads them back with bound parameters', async () => {
      const client = await createClickHouseClient({ ...stackConfig().clickhouse, dataDir, database: 'aw_smoke' });
      try {
        await client.command({
          query:
            'CREATE TABLE IF NOT EXISTS smoke (id UInt32, agent String, at DateTime64(3)) ENGINE = MergeTree ORDER BY id',
        });
        await client.insert({
          table: 'smoke',
          format: 'JSONEachRow',
          values: [
            { id: 1, agent: 'summarize', at: '2026-01-01 00:00:00.000' },
            { id: 2, agent: "o'brien", at: '2026-01-01 00:00:01.500' },
          ],
        });
        const rows = await (
          await client.query({
            query: 'SELECT id, agent, currentDatabase() AS db FROM smoke WHERE agent = {agent:String} ORDER BY id',
            query_params: { agent: "o'brien" },
            format: 'JSONEachRow',
          })
        ).json<{ id: number; agent: string; db: string }>();
        assert.deepEqual(rows, [{ id: 2, agent: "o'brien", db: 'aw_smoke' }]);
        const total = await (
          await client.query({ query: 'SELECT count() AS n FROM smoke', format: 'JSONEachRow' })
        ).json<{ n: string }>();
        assert.equal(Number(total[0]?.n), 2);
      } finally {
        await client.close();
      }
    });
  });
});
