// The composition root: builds the stages from one Config, wires them, and closes them in reverse
// order on shutdown. No stage constructs another.

import { getHeapStatistics } from 'node:v8';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Config } from './config/index.js';
import { ClockFindings, Correlator, EventClock, type CorrelatorStats, type EventSink } from './correlate/index.js';
import { RecordDecoder, createSchemaRegistry, probeSchemaRegistry, registrySchemaSource } from './decode/index.js';
import { IngestWorkers, type IngestWorkersStats } from './ingest-workers.js';
import { Detector, DetectorSink, type AnomalyAlert, type DetectorStats, type WindowReport } from './detect/index.js';
import { AlertPublisher, AlertStream, GroupAlerts } from './alert/index.js';
import { AlertDelivery } from './alert-delivery.js';
import { buildApi } from './api/index.js';
import type { FastifyInstance } from 'fastify';
import {
  AgentTap,
  DEFAULT_MAX_MESSAGE_BYTES,
  DlqWriter,
  createKafka,
  withKafkaRetry,
  type DlqStats,
  createTopicFilter,
  ensureTopics,
  GroupHealthWatch,
  probeKafka,
  type KafkaProbe,
  type TapStats,
} from './ingest/index.js';
import {
  AuditWriter,
  CheckpointPublisher,
  NdjsonFileSink,
  createClickHouseClient,
  createRedactor,
  describeClickHouse,
  migrate,
  pingClickHouse,
  type AuditWriterStats,
  type ClickHouseClient,
} from './audit/index.js';
import type { Logger } from './logger.js';
import { heapLimitWarning } from './heap-budget.js';
import { AgentwatchMetrics } from './metrics/index.js';
import { messageOf } from './errors.js';
import { Pipeline, type PartitionStall, type PipelineStats } from './pipeline.js';

export interface DependencyReport {
  kafka: KafkaProbe;
  schemaRegistrySubjects: number;
  clickhouse: string;
}

const HEALTH_INTERVAL_MS = 30_000;
/** How often event time is re-read without new records (quiet partitions, a silent fleet). */
const CLOCK_TICK_MS = 1_000;

/**
 * Asks Kafka, the schema registry and ClickHouse for a real answer each; throws the first typed
 * error. Uses `clickhouse` when given (one process at a time holds the embedded engine's data directory).
 */
export async function checkDependencies(
  config: Config,
  logger: Logger,
  clickhouse?: ClickHouseClient,
): Promise<DependencyReport> {
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

export interface ServiceOptions {
  /** Sinks added to the configured ones (tests and embedding programs). */
  extraSinks?: readonly EventSink[];
}

export interface ServiceStats {
  tap: TapStats;
  pipeline: PipelineStats;
  /** Decoding and audit rows on worker threads (INGEST_WORKERS); null when it is 0. */
  ingestWorkers: IngestWorkersStats | null;
  correlator: CorrelatorStats;
  detector: DetectorStats;
  audit: AuditWriterStats;
  dlqWritten: number;
  alertsPublished: number;
  checkpointsPublished: number;
}

export class Service {
  private constructor(
    private readonly logger: Logger,
    private readonly tap: AgentTap,
    private readonly pipeline: Pipeline,
    private readonly clockTicks: { stop(): Promise<void> },
    private readonly correlator: Correlator,
    private readonly dlq: DlqWriter,
    private readonly producer: Producer,
    private readonly sinks: readonly EventSink[],
    readonly clickhouse: ClickHouseClient,
    private readonly detectorSink: DetectorSink,
    private readonly publisher: AlertPublisher,
    /** Every alert as it is published, for in-process subscribers. */
    readonly alerts: AlertStream,
    private readonly audit: AuditWriter,
    private readonly checkpoints: CheckpointPublisher,
    private readonly api: FastifyInstance,
    /** Where the HTTP API listens, e.g. http://127.0.0.1:8080. */
    readonly apiUrl: string,
    readonly delivery: AlertDelivery,
    /** The agents' consumer groups; undefined when GROUP_WATCH_INTERVAL_MS is 0. */
    private readonly groupWatch: { watch: GroupHealthWatch; stop(): Promise<void> } | undefined,
    /** Decoding and audit rows on worker threads; undefined when INGEST_WORKERS is 0. */
    private readonly ingestWorkers: IngestWorkers | undefined,
  ) {}

  /** Connects to everything, creates missing output topics, and starts tapping. */
  static async start(config: Config, logger: Logger, options: ServiceOptions = {}): Promise<Service> {
    const heapWarning = heapLimitWarning(getHeapStatistics().heap_size_limit, config);
    if (heapWarning !== undefined) logger.warn(heapWarning);
    // Every consumer of this client is heard (alert delivery and the alert feed too); the tap keeps
    // its own group's. Consumers run only after `tap` below exists.
    const kafka: Kafka = createKafka(config.kafka, logger, (at) => tap.onOffsetReset(at));
    const cluster = await probeKafka(kafka, config.kafka);
    logger.info({ clusterId: cluster.clusterId, brokers: config.kafka.brokers }, 'kafka reachable');
    const subjects = await probeSchemaRegistry(config.schemaRegistry);
    logger.info({ url: config.schemaRegistry.url, subjects }, 'schema registry reachable');
    const clickhouse = await createClickHouseClient(config.clickhouse, logger);
    logger.info(
      { clickhouse: describeClickHouse(config.clickhouse), database: config.clickhouse.database },
      'clickhouse ready',
    );
    const migrations = await migrate(clickhouse, { retentionDays: config.audit.retentionDays });
    logger.info(migrations, 'audit schema up to date');

    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    const admin = kafka.admin();
    await admin.connect();
    let dlq: DlqWriter;
    try {
      const settling = { logger, deadlineMs: config.kafka.startupTimeoutMs };
      const created = await withKafkaRetry(
        'creating the output topics',
        () =>
          ensureTopics(admin, [config.topics.dlq, config.topics.anomalies, config.topics.checkpoints], config.topics),
        settling,
      );
      if (created.length > 0) logger.info({ topics: created }, 'created output topics');
      dlq = await withKafkaRetry(
        "reading the DLQ topic's max.message.bytes",
        () => DlqWriter.create(producer, admin, config.topics.dlq, config.audit.unparsedPayload),
        settling,
      ).catch((err: unknown) => {
        logger.warn(
          { err: messageOf(err), topic: config.topics.dlq, assumed: DEFAULT_MAX_MESSAGE_BYTES },
          "could not read the DLQ topic's max.message.bytes (DescribeConfigs); assuming Kafka's default, and splitting further if the broker refuses",
        );
        return new DlqWriter(producer, config.topics.dlq, DEFAULT_MAX_MESSAGE_BYTES, config.audit.unparsedPayload);
      });
    } finally {
      await admin.disconnect();
    }
    logger.info(
      { topic: dlq.topic, maxMessageBytes: dlq.maxMessageBytes },
      "dead-letter copies fit the DLQ topic's limit",
    );

    // The gauges read stages created below; a scrape only happens once the API listens, after all of them.
    const metrics = new AgentwatchMetrics({
      correlator: () => correlator.stats(),
      detector: () => detector.stats(),
      clockSkew: () => pipeline.stats().clockSkew,
      audit: () => audit.stats(),
      lastScores: () => detector.lastScores(),
      pending: () => tap.stats(),
      offsetsLost: () => tap.stats().offsetsLost,
      ingestWorkers: () => ingestWorkers?.stats() ?? null,
      consumerLag: cachedFor(5_000, () => tap.consumerLag()),
      consumerGroups: () => ({
        groups: groupWatch?.watch.snapshot() ?? [],
        notWatched: groupWatch?.watch.stats().groupsNotWatched ?? 0,
      }),
      dlq: () => dlq.stats(),
      stalls: () => pipeline.stalls(),
    });
    const audit = new AuditWriter(clickhouse, {
      batchRows: config.audit.batchRows,
      flushMs: config.audit.flushMs,
      retryMaxMs: config.sinks.retryMaxMs,
      redact: createRedactor(config.audit.redactPaths, config.audit.unparsedPayload),
      logger,
      onInsert: (rows, seconds) => metrics.inserted(rows, seconds),
    });
    const checkpoints = new CheckpointPublisher(producer, config.topics.checkpoints, audit, (err) =>
      logger.warn({ err }, 'could not publish hash-chain checkpoints; the next interval tries again'),
    );
    checkpoints.start(config.audit.checkpointIntervalMs);
    const detector = new Detector(config.detect);
    const clockFindings = new ClockFindings();
    const registry = createSchemaRegistry(config.schemaRegistry);
    const publisher = await AlertPublisher.create(producer, registry, config.topics.anomalies);
    const alerts = new AlertStream((err) => logger.warn({ err }, 'an alert subscriber threw and was removed'));
    let apiUrl = `http://${config.api.host}:${config.api.port}`;
    const delivery = new AlertDelivery(
      {
        config: config.alerts,
        apiUrl: () => apiUrl,
        topic: config.topics.anomalies,
        groupId: config.kafka.groupId,
        kafka,
        registry,
        clickhouse,
        observer: metrics.delivery,
        partitions: config.topics.partitions,
        retryMaxMs: config.sinks.retryMaxMs,
      },
      logger,
    );
    const deliverAlerts = async (batch: readonly AnomalyAlert[]): Promise<void> => {
      // Kafka first: if publishing fails the batch is offered again, and the stream must not repeat itself.
      const published = batch.map((alert) => ({ alert, silencedBy: delivery.silenceOf(alert) }));
      await publisher.publish(published);
      await audit.recordAlerts(published.map(({ alert, silencedBy }) => ({ ...alert, silencedBy })));
      for (const alert of batch) {
        metrics.alert(alert);
        logAlert(logger, alert);
        alerts.emit(alert);
      }
    };
    const detectorSink = new DetectorSink(
      detector,
      deliverAlerts,
      logger.isLevelEnabled('debug') ? (windows) => logWindows(logger, detector.featureNames, windows) : undefined,
    );
    logger.info(
      { topic: config.topics.anomalies, schemaId: publisher.schemaId, features: detector.featureNames },
      'alerts go to the anomalies topic',
    );

    const sinks: EventSink[] = [audit, detectorSink];
    if (config.sinks.eventsFile !== undefined) sinks.push(await NdjsonFileSink.open(config.sinks.eventsFile));
    sinks.push(...(options.extraSinks ?? []));

    const keepJsonBody = config.audit.redactPaths.length > 0 || config.sinks.eventsFile !== undefined;
    const decoder = new RecordDecoder(registrySchemaSource(config.schemaRegistry), {
      maxPayloadBytes: config.ingest.maxPayloadBytes,
      keepJsonBody,
    });
    const ingestWorkers =
      config.ingest.workers === 0
        ? undefined
        : new IngestWorkers(
            decoder,
            {
              workers: config.ingest.workers,
              maxPayloadBytes: config.ingest.maxPayloadBytes,
              redactPaths: config.audit.redactPaths,
              unparsedPayload: config.audit.unparsedPayload,
            },
            logger,
          );
    const correlator = new Correlator(config.correlate);
    const pipeline = new Pipeline({
      decoder: ingestWorkers ?? decoder,
      correlator,
      clock: new EventClock(config.eventTime),
      clockFindings,
      dlq,
      sinks,
      logger,
      retryMaxMs: config.sinks.retryMaxMs,
      alignMs: config.eventTime.alignMs,
      observer: metrics,
    });
    const tap = new AgentTap(
      kafka,
      {
        groupId: config.kafka.groupId,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        startupTimeoutMs: config.kafka.startupTimeoutMs,
        ingest: config.ingest,
        filter: createTopicFilter(config.ingest, config.topics),
        handler: pipeline.handle,
        onAssignment: (backlogged) => {
          audit.forgetTails();
          pipeline.onAssignment(backlogged);
        },
        holdBack: (topic, partition) => pipeline.isAhead(topic, partition),
        flushNow: () => pipeline.flushNow(),
      },
      logger,
    );
    // Delivery joins its groups before anything is published: a new destination starts at the topic's end.
    await delivery.start();
    const groupWatch = await startGroupWatch(kafka, config, logger, deliverAlerts, () =>
      delivery.firingAlerts({ includeSilenced: true }),
    );
    const clockTicks = startTicking(async () => {
      await pipeline.tick();
      tap.releaseHeld();
    }, CLOCK_TICK_MS);
    await tap.start();
    logger.info(
      { topics: tap.subscribedTopics(), pattern: config.ingest.topicPattern.source, groupId: config.kafka.groupId },
      'tapping agent topics',
    );

    const api = await buildApi(
      {
        clickhouse,
        config: config.api,
        agents: () => detector.snapshot(),
        clockFindings: () => clockFindings.list(),
        acceptBaseline: async (agent, by) => {
          const outcome = detector.accept(agent, by);
          if (typeof outcome !== 'string') await deliverAlerts(outcome);
          return outcome;
        },
        metrics: () => metrics.render(),
        readiness: async () => {
          const kafkaUp = await probeKafka(kafka, config.kafka).then(
            () => true,
            () => false,
          );
          const clickhouseUp = await pingClickHouse(clickhouse, config.clickhouse).then(
            () => true,
            () => false,
          );
          const now = Date.now();
          const stuck = pipeline.stalls().filter((s) => now - s.since >= config.ingest.stallUnreadyMs);
          const reasons = [
            ...(kafkaUp ? [] : ['kafka does not answer']),
            ...(clickhouseUp ? [] : ['clickhouse does not answer']),
            ...stuck.map(
              (s) =>
                `${s.topic}:${s.partition} has failed "${s.step}" for ${Math.round((now - s.since) / 1000)} s (${s.attempts} attempts): ${s.error.slice(0, 200)}`,
            ),
          ];
          return { checks: { kafka: kafkaUp, clickhouse: clickhouseUp, partitions: stuck.length === 0 }, reasons };
        },
        alerts: {
          openStream: (response, lastEventId, filter) => delivery.openStream(response, lastEventId, filter),
          closeStreams: () => delivery.closeStreams(),
          addSilence: (silence) => delivery.addSilence(silence),
          silences: () => delivery.silences.active(Date.now()),
          silenceEnded: (id) => delivery.silenceEnded(id),
          consumerGroups: () =>
            groupWatch?.watch.snapshot().map((g) => ({
              group: g.groupId,
              status: g.status,
              reason: g.reason,
              status_since: new Date(g.statusSince).toISOString(),
              evaluated_at: new Date(g.evaluatedAt).toISOString(),
              state: g.state,
              members: g.members,
              topics: g.topics,
              lag_records: g.lagRecords,
              lag_seconds: g.lagSeconds,
              lag_seconds_lower_bound: g.lagSecondsLowerBound,
              commit_rate: g.commitRate,
            })) ?? [],
        },
      },
      logger,
    );
    apiUrl = await api.listen({ host: config.api.host, port: config.api.port });
    logger.info({ url: apiUrl, docs: `${apiUrl}/docs`, keys: config.api.keys.map((k) => k.name) }, 'API listening');
    return new Service(
      logger,
      tap,
      pipeline,
      clockTicks,
      correlator,
      dlq,
      producer,
      sinks,
      clickhouse,
      detectorSink,
      publisher,
      alerts,
      audit,
      checkpoints,
      api,
      apiUrl,
      delivery,
      groupWatch,
      ingestWorkers,
    );
  }

  stats(): ServiceStats {
    return {
      tap: this.tap.stats(),
      pipeline: this.pipeline.stats(),
      ingestWorkers: this.ingestWorkers?.stats() ?? null,
      correlator: this.correlator.stats(),
      detector: this.detectorSink.detector.stats(),
      audit: this.audit.stats(),
      dlqWritten: this.dlq.count(),
      alertsPublished: this.publisher.count(),
      checkpointsPublished: this.checkpoints.count(),
    };
  }

  /**
   * Every detection window starting at or before this event time (ms since the epoch) has closed and
   * its alerts were delivered; -Infinity before the first.
   */
  detectedThrough(): number {
    return this.detectorSink.detectedThrough();
  }

  /** Dead-letter copies written, references in their place, and split requests. */
  dlqStats(): DlqStats {
    return this.dlq.stats();
  }

  /** Partitions whose batch keeps failing a step now. */
  pipelineStalls(): PartitionStall[] {
    return this.pipeline.stalls();
  }

  subscribedTopics(): readonly string[] {
    return this.tap.subscribedTopics();
  }

  /** Drains the batch in progress (its offsets are committed if every sink accepted it), then closes in reverse order. */
  /** Resolves once the tap joined its group and knows where it starts reading each partition. */
  async reading(): Promise<void> {
    await this.tap.assigned();
  }

  async stop(): Promise<void> {
    this.logger.info('shutting down');
    await this.api.close();
    await this.tap.stop();
    await this.ingestWorkers?.close(); // after the tap's drain: no batch is decoding now
    await this.clockTicks.stop();
    for (const sink of [...this.sinks].reverse()) await sink.close();
    await this.groupWatch?.stop();
    await this.delivery.stop(); // after the last alerts were published
    await this.checkpoints.stop(); // the last tails, after the audit writer flushed
    await this.producer.disconnect();
    await this.clickhouse.close();
    this.logger.info('stopped');
  }
}

/**
 * Watches the agents' consumer groups (those with offsets on tapped topics, not agentwatch's own) and
 * turns their status changes into alerts, delivered like detection's.
 */
async function startGroupWatch(
  kafka: Kafka,
  config: Config,
  logger: Logger,
  deliverAlerts: (alerts: readonly AnomalyAlert[]) => Promise<void>,
  firingAlerts: () => Promise<AnomalyAlert[]>,
): Promise<{ watch: GroupHealthWatch; stop(): Promise<void> } | undefined> {
  if (config.groups.intervalMs === 0) return undefined;
  const admin = kafka.admin();
  await admin.connect();
  const ownGroup = config.kafka.groupId;
  const watch = new GroupHealthWatch(
    admin,
    {
      isAgentTopic: createTopicFilter(config.ingest, config.topics),
      excludeGroup: (group) => group === ownGroup || group.startsWith(`${ownGroup}-`),
      intervalMs: config.groups.intervalMs,
      maxGroups: config.groups.maxGroups,
    },
    logger,
  );
  const groupAlerts = new GroupAlerts();
  // Alerts still open from before a restart resolve when their group recovers.
  groupAlerts.restore(
    await firingAlerts().catch((err: unknown) => {
      logger.warn({ err }, 'could not read open consumer-group alerts; a recovered group may not resolve its alert');
      return [];
    }),
  );
  // One delivery at a time, in order; one that fails is raised again by the next evaluation.
  let delivering = Promise.resolve();
  watch.onEvaluated((snapshot) => {
    const due = groupAlerts.evaluate(snapshot, Date.now());
    if (due.length === 0) return;
    delivering = delivering
      .then(() => deliverAlerts(due.map((d) => d.alert)))
      .catch((err: unknown) => {
        for (const d of due) d.undo();
        logger.error({ err }, 'could not publish consumer-group alerts; the next evaluation tries again');
      });
  });
  watch.start();
  return {
    watch,
    async stop() {
      await watch.stop();
      await delivering;
      await admin.disconnect();
    },
  };
}

function logAlert(logger: Logger, alert: AnomalyAlert): void {
  const top = alert.features.slice(0, 3).map((f) => ({
    feature: f.name,
    value: round(f.value),
    baseline: round(f.baselineMean),
    contribution: round(f.contribution),
  }));
  const fields = {
    alertId: alert.alertId,
    agent: alert.agent,
    kind: alert.kind,
    severity: alert.severity,
    score: round(alert.score),
    threshold: round(alert.threshold),
    windowStart: new Date(alert.windowStart).toISOString(),
    top,
    // Tasks to look at, each with its timeline (GET /v1/workflows/{id}/timeline).
    examples: alert.examples.map((e) => ({
      reason: e.reason,
      taskId: e.taskId,
      workflowId: e.workflowId,
      ...(e.latencyMs === null ? {} : { latencyMs: Math.round(e.latencyMs) }),
    })),
  };
  const what = alert.kind === 'drift' ? 'drift' : alert.kind === 'consumer-group' ? 'consumer group alert' : 'anomaly';
  if (alert.state === 'FIRING') logger.warn(fields, `${what} FIRING for ${alert.agent}`);
  else logger.info(fields, `${what} RESOLVED for ${alert.agent}`);
}

/** LOG_LEVEL=debug: every scored window with its values, to answer "why did this (not) alert?". */
function logWindows(logger: Logger, featureNames: readonly string[], windows: readonly WindowReport[]): void {
  for (const w of windows) {
    const values = Object.fromEntries(featureNames.map((name, i) => [name, round(w.values[i]!)]));
    const evidence = Object.fromEntries(featureNames.map((name, i) => [name, round(w.evidence[i]!)]));
    const contributions =
      w.score.contributions === null
        ? null
        : Object.fromEntries(featureNames.map((name, i) => [name, round(w.score.contributions![i]!)]));
    logger.debug(
      {
        agent: w.agent,
        windowStart: new Date(w.windowStart).toISOString(),
        score: w.score.score === null ? null : round(w.score.score),
        threshold: round(w.score.threshold),
        anomaly: w.score.anomaly,
        pooledWindows: w.pooled,
        values,
        evidence,
        contributions,
      },
      'window scored',
    );
  }
}

function round(value: number): number | null {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : null;
}

/** Runs agentwatch until `stop` is aborted. */
export async function runService(config: Config, logger: Logger, stop: AbortSignal): Promise<void> {
  const service = await Service.start(config, logger);
  logger.info('agentwatch running; stop with SIGINT or SIGTERM');
  // Report progress and re-probe the dependencies periodically. The timer also keeps the process up
  // while no topic exists yet: a pending promise alone does not hold Node's event loop.
  const health = setInterval(() => {
    logger.info(service.stats(), 'progress');
    void checkDependencies(config, logger, service.clickhouse).catch((err: unknown) =>
      logger.warn({ err }, 'a dependency stopped answering'),
    );
  }, HEALTH_INTERVAL_MS);
  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    else stop.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(health);
  await service.stop();
}

/** Runs `tick` every `ms`, never two at once; stop() waits for the one under way. */
function startTicking(tick: () => Promise<void>, ms: number): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = tick().finally(() => {
      busy = false;
    });
  }, ms);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/** `read`, called at most once per `ms`: concurrent and repeated callers share one answer. */
function cachedFor<T>(ms: number, read: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (last === undefined || Date.now() - last.at > ms) {
      const entry = { at: Date.now(), value: read() };
      last = entry;
      // A failed read is not kept: the next call asks again (unless a newer read replaced it).
      entry.value.catch(() => {
        if (last === entry) last = undefined;
      });
    }
    return last.value;
  };
}
