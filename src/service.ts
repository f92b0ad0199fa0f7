// The composition root: builds the stages from one Config, wires them, and closes them in reverse
// order on shutdown. No stage constructs another.

import type { Config } from './config/index.js';
import { createKafka, probeKafka, type KafkaProbe } from './ingest/index.js';
import { probeSchemaRegistry } from './decode/index.js';
import { createClickHouseClient, describeClickHouse, pingClickHouse, type ClickHouseClient } from './audit/index.js';
import type { Logger } from './logger.js';

export interface DependencyReport {
  kafka: KafkaProbe;
  schemaRegistrySubjects: number;
  clickhouse: string;
}

const HEALTH_INTERVAL_MS = 30_000;

/**
 * Asks Kafka, the schema registry and ClickHouse for a real answer each; throws the first typed
 * error. Uses `clickhouse` when given (the embedded engine opens one data directory per process).
 */
export async function checkDependencies(config: Config, logger: Logger, clickhouse?: ClickHouseClient): Promise<DependencyReport> {
  const kafka = await probeKafka(createKafka(config.kafka, logger), config.kafka);
  const schemaRegistrySubjects = await probeSchemaRegistry(config.schemaRegistry);
  if (clickhouse === undefined) {
    const opened = await createClickHouseClient(config.clickhouse);
    await opened.close();
  } else {
    await pingClickHouse(clickhouse, config.clickhouse);
  }
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
  // Re-probe the dependencies periodically and say when one stops answering. The timer also keeps
  // the process alive until a signal: a pending promise alone does not hold Node's event loop.
  const health = setInterval(() => {
    void checkDependencies(config, logger, clickhouse).then(
      () => logger.debug('dependencies answer'),
      (err: unknown) => logger.warn({ err }, 'a dependency stopped answering'),
    );
  }, HEALTH_INTERVAL_MS);
  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(health);

  logger.info('shutting down');
  await clickhouse.close();
  logger.info('stopped');
}
