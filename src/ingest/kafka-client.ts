// Builds the kafkajs client from config (brokers, client id, SASL, TLS) and probes the cluster.
import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig as KafkaJsConfig, type LogEntry } from 'kafkajs';
import type { KafkaConfig } from '../config/index.js';
import { AgentwatchError, messageOf } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * A consumer's partition whose fetch ran out of range (retention deleted records not read yet);
 * kafkajs resets it to its default start. Every consumer of the client is heard: `groupId` says whose.
 */
export type OffsetResetListener = (at: { groupId: string; topic: string; partition: number }) => void;

/** kafkajs reports an out-of-range reset only in its log, with this message. */
const OFFSET_RESET_MESSAGE = 'Offset out of range, resetting to default offset';

/** The kafkajs client. `onOffsetReset` hears of each out-of-range reset of a consumer's partition, which kafkajs only logs. */
export function createKafka(config: KafkaConfig, logger: Logger, onOffsetReset?: OffsetResetListener): Kafka {
  const options: KafkaJsConfig = {
    brokers: config.brokers,
    clientId: config.clientId,
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    logLevel: KafkaLogLevel.WARN,
    logCreator: () => kafkaLogHandler(logger, onOffsetReset),
  };
  if (config.sasl !== undefined) {
    const { mechanism, username, password } = config.sasl;
    options.sasl =
      mechanism === 'plain'
        ? { mechanism, username, password }
        : mechanism === 'scram-sha-256'
          ? { mechanism, username, password }
          : { mechanism, username, password };
  }
  if (config.tls !== undefined) {
    const { ca, cert, key, rejectUnauthorized } = config.tls;
    options.ssl = {
      rejectUnauthorized,
      ...(ca === undefined ? {} : { ca: [ca] }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
    };
  }
  return new Kafka(options);
}

/** kafkajs's log lines into agentwatch's log; an out-of-range reset is also told to `onOffsetReset`. */
export function kafkaLogHandler(logger: Logger, onOffsetReset?: OffsetResetListener): (entry: LogEntry) => void {
  return (entry) => {
    const { groupId, topic, partition } = entry.log as { groupId?: unknown; topic?: unknown; partition?: unknown };
    if (
      onOffsetReset !== undefined &&
      entry.log.message === OFFSET_RESET_MESSAGE &&
      typeof groupId === 'string' &&
      typeof topic === 'string' &&
      typeof partition === 'number'
    )
      onOffsetReset({ groupId, topic, partition });
    logKafka(logger, entry);
  };
}

function logKafka(logger: Logger, entry: LogEntry): void {
  const { message, ...rest } = entry.log;
  const fields = { component: 'kafkajs', namespace: entry.namespace, ...rest };
  if (entry.level === KafkaLogLevel.ERROR || entry.level === KafkaLogLevel.NOTHING) logger.error(fields, message);
  else if (entry.level === KafkaLogLevel.WARN) logger.warn(fields, message);
  else if (entry.level === KafkaLogLevel.INFO) logger.info(fields, message);
  else logger.debug(fields, message);
}

export interface KafkaProbe {
  clusterId: string;
  brokers: number;
}

/** A metadata round trip (DescribeCluster); throws a retryable AW_KAFKA_UNAVAILABLE. */
export async function probeKafka(kafka: Kafka, config: KafkaConfig): Promise<KafkaProbe> {
  const admin = kafka.admin({ retry: { retries: 2 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return { clusterId: cluster.clusterId, brokers: cluster.brokers.length };
  } catch (err) {
    throw new AgentwatchError(
      'AW_KAFKA_UNAVAILABLE',
      `Kafka at ${config.brokers.join(',')} did not answer a metadata request: ${messageOf(err)}. Check KAFKA_BROKERS, and KAFKA_SASL_* / KAFKA_TLS* for secured clusters.`,
      { cause: err, retryable: true },
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
