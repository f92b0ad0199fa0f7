// The composition root: builds the stages from one Config, wires them, and closes them in reverse
// order on shutdown. No stage constructs another.

import type { Config } from './config/index.js';
import { createKafka, probeKafka, type KafkaProbe } from './ingest/index.js';
import { probeSchemaRegistry } from './decode/index.js';
import { createClickHouseClient, describeClickHouse, type ClickHouseClient } from './audit/index.js';
import type { Logger } from './logger.js';

export interface DependencyReport {
  kafka: KafkaProbe;
  schemaRegistrySubjects: number;
  clickhouse: string;
}

/** Asks Kafka, the schema registry and ClickHouse for a real answer each; throws the first typed error. */
export async function checkDependencies(config: Config, logger: Logger): Promise<DependencyReport> {
  const kafka = await probeKafka(createKafka(config.kafka, logger), config.kafka);
  const schemaRegistrySubjects = await probeSchemaRegistry(config.schemaRegistry);
  const clickhouse = await createClickHouseClient(config.clickhouse);
  await clickhouse.close();
  return { kafka, schemaRegistrySubjects, clickhouse: describeClickHouse(config.clickhouse) };
}

/** Runs agentwatch until `stop` is aborted, then closes everything it opened. */
export async function runService(config: Config, logger: Logger, stop: AbortSignal): Promise<void> {
  const kafka = createKafka(config.kafka, logger);
  const cluster = await probeKafka(kafka, config.kafka);
  logger.info({ clusterId: cluster.clusterId, brokers: config.kafka.brokers }, 'kafka reachable');
  const subjects = await probeSchemaRegistry(config.schemaRegistry);
  logger.info({ url: config.schemaRegistry.url, subjects }, 'schema registry reachable');
  const clickhouse: ClickHouseClient = await createClickHouseClient(config.clickhouse);
  logger.info({ clickhouse: describeClickHouse(config.clickhouse), database: config.clickhouse.database }, 'clickhouse ready');

  logger.info('agentwatch running; stop with SIGINT or SIGTERM');
  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener('abort', () => resolve(), { once: true });
  });

  logger.info('shutting down');
  await clickhouse.close();
  logger.info('stopped');
}
