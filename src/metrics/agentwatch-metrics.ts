// Prometheus metrics of one agentwatch instance, served at /metrics.
//
// Two kinds: counters and histograms the data path feeds as it goes (records per topic, stage and
// insert latencies, alerts), and gauges read from the stages' own statistics when Prometheus
// scrapes (in-flight tasks, evictions, detector state, consumer lag). The stages do not import
// this module: they report through small observer interfaces, or are read through `MetricSources`.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the gauges read at scrape time. */
export interface MetricSources {
  correlator(): {
    inFlight: number;
    evictions: number;
    timeouts: number;
    retries: number;
    redeliveries: number;
    lateAnswers: number;
    orphanAnswers: number;
  };
  detector(): {
    agents: number;
    firing: number;
    windowsScored: number;
    anomalousWindows: number;
    lateEvents: number;
    agentsEvicted: number;
  };
  audit(): {
    buffered: number;
    insertRetries: number;
    duplicatesSkipped: number;
    outcomesWritten: number;
    integrityAlarms: number;
    recordsBeforeChain: number;
  };
  /** Records whose timestamps no clock explains, ahead of the declared clock or far behind the event clock. */
  clockSkew(): { ahead: number; behind: number };
  /** Each scored agent's last window score and threshold (at most DETECT_MAX_AGENTS agents). */
  lastScores(): ReadonlyArray<{ agent: string; score: number | null; threshold: number }>;
  /** Dead-letter copies replaced by reference records (too large for the DLQ topic), and produce requests split after MESSAGE_TOO_LARGE. */
  dlq(): { references: number; splits: number };
  /** Partitions whose batch keeps failing a step now, and since when (wall ms). */
  stalls(): ReadonlyArray<{ topic: string; partition: number; step: string; since: number }>;
  /** Records read and handed to the sinks, not yet committed; and how often the tap waited at INGEST_MAX_PENDING_RECORDS. */
  pending(): { pendingRecords: number; pendingWaits: number };
  /** Offsets the topics' retention deleted before agentwatch read them. */
  offsetsLost(): number;
  /** Ingest workers (INGEST_WORKERS): batches decoded on them, records decoded on the main thread instead, workers that failed; null without workers. */
  ingestWorkers(): { batches: number; recordsOnMainThread: number; failures: number } | null;
  /** Records not yet processed per tapped partition (Kafka admin API); may reject, then the gauge is left out. */
  consumerLag(): Promise<ReadonlyArray<{ topic: string; partition: number; lag: number }>>;
  /** The agents' consumer groups as last evaluated (at most GROUP_WATCH_MAX_GROUPS), and how many were left out. */
  consumerGroups(): {
    groups: ReadonlyArray<{
      groupId: string;
      status: string;
      lagRecords: number;
      lagSeconds: number;
      commitRate: number;
      members: number;
    }>;
    notWatched: number;
  };
}

/** Burrow's statuses, one gauge series each per group (1 for the current one). */
const GROUP_STATUSES = ['OK', 'WARNING', 'STALLED', 'STOPPED', 'ERROR'] as const;

/** One pipeline batch, as the pipeline reports it. */
export interface BatchObservation {
  topic: string;
  records: number;
  /** Encoding and DLQ reason (or null) of each event. */
  events: ReadonlyArray<{ encoding: string; dlqReason: string | null }>;
  /** Seconds spent in each stage of this batch. */
  seconds: { decode: number; correlate: number; sinks: number };
}

const STAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class AgentwatchMetrics {
  readonly registry = new Registry();
  private readonly consumed: Counter<'topic'>;
  private readonly decoded: Counter<'topic' | 'encoding'>;
  private readonly dlq: Counter<'reason'>;
  private readonly audited: Counter<'topic'>;
  private readonly alerts: Counter<'agent' | 'state' | 'severity'>;
  private readonly deliveries: Counter<'destination' | 'outcome'>;
  private readonly deadLetters: Counter<'destination'>;
  private readonly stageSeconds: Histogram<'stage'>;
  private readonly insertSeconds: Histogram;
  private readonly insertRows: Histogram;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    this.consumed = new Counter({
      name: 'agentwatch_records_consumed_total',
      help: 'Kafka records read from tapped topics.',
      labelNames: ['topic'],
      registers,
    });
    this.decoded = new Counter({
      name: 'agentwatch_events_decoded_total',
      help: 'Canonical events by topic and encoding (opaque: not decodable).',
      labelNames: ['topic', 'encoding'],
      registers,
    });
    this.dlq = new Counter({
      name: 'agentwatch_dlq_records_total',
      help: 'Records copied to the dead-letter topic, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.audited = new Counter({
      name: 'agentwatch_records_audited_total',
      help: 'Audit rows ClickHouse confirmed, by topic.',
      labelNames: ['topic'],
      registers,
    });
    this.alerts = new Counter({
      name: 'agentwatch_alerts_total',
      help: 'Anomaly alerts published, by agent, state and severity.',
      labelNames: ['agent', 'state', 'severity'],
      registers,
    });
    this.stageSeconds = new Histogram({
      name: 'agentwatch_batch_stage_seconds',
      help: 'Time one batch spent in a pipeline stage (sinks: until every sink accepted it).',
      labelNames: ['stage'],
      buckets: STAGE_BUCKETS,
      registers,
    });
    this.insertSeconds = new Histogram({
      name: 'agentwatch_audit_insert_seconds',
      help: 'Duration of one audit insert into ClickHouse.',
      buckets: STAGE_BUCKETS,
      registers,
    });
    this.insertRows = new Histogram({
      name: 'agentwatch_audit_insert_rows',
      help: 'Rows in one audit insert.',
      buckets: [1, 10, 100, 500, 1_000, 5_000, 10_000, 50_000],
      registers,
    });

    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    // Totals the stages keep themselves: counters (so rate() works) set from them at scrape time.
    const total = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    gauge('agentwatch_tasks_in_flight', 'Tasks awaiting an answer.', () => sources.correlator().inFlight);
    total(
      'agentwatch_tasks_evicted_total',
      'In-flight tasks dropped because CORRELATE_MAX_INFLIGHT was reached.',
      () => sources.correlator().evictions,
    );
    total('agentwatch_task_timeouts_total', 'Tasks that timed out.', () => sources.correlator().timeouts);
    total(
      'agentwatch_task_retries_total',
      'Tasks sent again after an answer or a timeout.',
      () => sources.correlator().retries,
    );
    total(
      'agentwatch_task_redeliveries_total',
      'Request records read again after a rebalance or restart.',
      () => sources.correlator().redeliveries,
    );
    total(
      'agentwatch_late_answers_total',
      'Answers that came after their task timed out.',
      () => sources.correlator().lateAnswers,
    );
    total(
      'agentwatch_orphan_answers_total',
      'Answers whose request never showed up.',
      () => sources.correlator().orphanAnswers,
    );
    gauge('agentwatch_agents', 'Agents with a baseline in the detector.', () => sources.detector().agents);
    gauge('agentwatch_agents_firing', 'Agents with an alert firing.', () => sources.detector().firing);
    total('agentwatch_windows_scored_total', 'Agent windows scored.', () => sources.detector().windowsScored);
    total(
      'agentwatch_windows_anomalous_total',
      'Agent windows above the threshold.',
      () => sources.detector().anomalousWindows,
    );
    total(
      'agentwatch_late_events_total',
      'Events for windows already closed, left out of detection.',
      () => sources.detector().lateEvents,
    );
    total(
      'agentwatch_agents_evicted_total',
      'Agents forgotten because DETECT_MAX_AGENTS was reached.',
      () => sources.detector().agentsEvicted,
    );
    new Counter({
      name: 'agentwatch_clock_skew_records_total',
      help: 'Records stamped too far ahead of the clock or behind the event clock (EVENT_TIME_MAX_SKEW_MS): audited, but not correlated or scored, and never moving event time.',
      labelNames: ['direction'],
      registers,
      collect() {
        const skew = sources.clockSkew();
        this.reset();
        this.inc({ direction: 'ahead' }, skew.ahead);
        this.inc({ direction: 'behind' }, skew.behind);
      },
    });
    total(
      'agentwatch_dlq_references_total',
      'Dead-letter copies too large for the DLQ topic (its max.message.bytes), replaced by a reference record: source coordinates, size, SHA-256 and reason.',
      () => sources.dlq().references,
    );
    total(
      'agentwatch_dlq_split_requests_total',
      'DLQ produce requests the broker refused as too large, and that were split.',
      () => sources.dlq().splits,
    );
    new Gauge({
      name: 'agentwatch_partition_stalled_seconds',
      help: "How long a partition's batch has been failing a step (decode, DLQ copy, a sink) and retrying; absent while nothing fails.",
      labelNames: ['topic', 'partition', 'step'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const s of sources.stalls())
          this.set({ topic: s.topic, partition: String(s.partition), step: s.step }, (now - s.since) / 1000);
      },
    });
    gauge('agentwatch_audit_rows_buffered', 'Audit rows waiting for their insert.', () => sources.audit().buffered);
    gauge(
      'agentwatch_ingest_pending_records',
      'Records read and handed to the sinks whose offsets are not committed yet (bounded by INGEST_MAX_PENDING_RECORDS).',
      () => sources.pending().pendingRecords,
    );
    total(
      'agentwatch_ingest_pending_waits_total',
      'Times reading waited because INGEST_MAX_PENDING_RECORDS records were not committed yet (the sinks are the bottleneck).',
      () => sources.pending().pendingWaits,
    );
    total(
      'agentwatch_ingest_offsets_lost_total',
      "Offsets of agent topics that retention deleted before agentwatch read them (it was down or lagged longer than the topic's retention): records never audited.",
      () => sources.offsetsLost(),
    );
    total(
      'agentwatch_ingest_worker_batches_total',
      'Batches (or their records that are not Confluent-framed) decoded on an ingest worker thread (INGEST_WORKERS).',
      () => sources.ingestWorkers()?.batches ?? 0,
    );
    total(
      'agentwatch_ingest_worker_failures_total',
      'Ingest worker threads that failed or exited; their batches were decoded on the main thread and a new worker started.',
      () => sources.ingestWorkers()?.failures ?? 0,
    );
    total(
      'agentwatch_audit_insert_retries_total',
      'Audit inserts ClickHouse refused and that were retried.',
      () => sources.audit().insertRetries,
    );
    total(
      'agentwatch_audit_duplicates_skipped_total',
      'Redelivered records already in the audit store (compared with the stored row), skipped.',
      () => sources.audit().duplicatesSkipped,
    );
    total(
      'agentwatch_task_outcomes_written_total',
      'Correlation outcomes (latency, retries, timeouts) written to task_outcomes.',
      () => sources.audit().outcomesWritten,
    );
    total(
      'agentwatch_integrity_alarms_total',
      'Records whose offset already holds a different stored row (forged or rewritten); each is kept in integrity_findings. Any increase needs an investigation.',
      () => sources.audit().integrityAlarms,
    );
    total(
      'agentwatch_audit_records_before_chain_total',
      "Records read again that are older than their partition's first stored row (the group's offsets were reset): never audited, and not now.",
      () => sources.audit().recordsBeforeChain,
    );
    const perAgent = (
      name: string,
      help: string,
      read: (last: { score: number | null; threshold: number }) => number | null,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['agent'],
        registers,
        collect() {
          this.reset();
          for (const last of sources.lastScores()) {
            const value = read(last);
            if (value !== null && Number.isFinite(value)) this.set({ agent: last.agent }, value);
          }
        },
      });
    perAgent('agentwatch_agent_anomaly_score', "Mahalanobis D² of the agent's last scored window.", (w) => w.score);
    perAgent(
      'agentwatch_agent_anomaly_threshold',
      "The threshold the agent's score is compared with (χ² quantile of DETECT_P).",
      (w) => w.threshold,
    );
    this.deliveries = new Counter({
      name: 'agentwatch_alert_deliveries_total',
      help: 'Alert deliveries per destination (webhook or Alertmanager) by outcome: delivered, failed_attempt (retried), dead_letter, silenced.',
      labelNames: ['destination', 'outcome'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'agentwatch_alert_dead_letters_total',
      help: 'Alerts a destination did not take after ALERT_DELIVERY_MAX_ATTEMPTS (or refused outright), written as dead letters (GET /v1/alerts/dead-letters).',
      labelNames: ['destination'],
      registers,
    });
    const groupGauge = (
      name: string,
      help: string,
      read: (g: ReturnType<MetricSources['consumerGroups']>['groups'][number]) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['group'],
        registers,
        collect() {
          this.reset();
          for (const g of sources.consumerGroups().groups) this.set({ group: g.groupId }, read(g));
        },
      });
    groupGauge(
      'agentwatch_consumer_group_lag_records',
      "Records on agent topics an agents' consumer group has not committed yet (high watermark minus committed offset, summed over partitions).",
      (g) => g.lagRecords,
    );
    groupGauge(
      'agentwatch_consumer_group_lag_seconds',
      "Age of the oldest record an agents' consumer group has not committed (worst partition); it keeps growing while the group is stopped.",
      (g) => g.lagSeconds,
    );
    groupGauge(
      'agentwatch_consumer_group_commit_rate',
      "Records per second an agents' consumer group committed between the last two evaluations.",
      (g) => g.commitRate,
    );
    groupGauge(
      'agentwatch_consumer_group_members',
      "Members of an agents' consumer group; -1: not known (a group of the consumer protocol, KIP-848, which kafkajs cannot describe).",
      (g) => g.members,
    );
    groupGauge(
      'agentwatch_consumer_group_status_code',
      "Status of an agents' consumer group as one number, for state timelines: 0 OK, 1 WARNING, 2 STALLED, 3 STOPPED, 4 ERROR.",
      (g) => GROUP_STATUSES.indexOf(g.status as (typeof GROUP_STATUSES)[number]),
    );
    new Gauge({
      name: 'agentwatch_consumer_group_status',
      help: "Status of an agents' consumer group in Burrow's sense: 1 for the current status (OK, WARNING, STALLED, STOPPED, ERROR), 0 for the others.",
      labelNames: ['group', 'status'],
      registers,
      collect() {
        this.reset();
        for (const g of sources.consumerGroups().groups)
          for (const status of GROUP_STATUSES) this.set({ group: g.groupId, status }, g.status === status ? 1 : 0);
      },
    });
    gauge(
      'agentwatch_consumer_groups_not_watched',
      "Agents' consumer groups beyond GROUP_WATCH_MAX_GROUPS, not evaluated.",
      () => sources.consumerGroups().notWatched,
    );
    new Gauge({
      name: 'agentwatch_consumer_lag',
      help: 'Records of a tapped partition not yet processed (high watermark minus committed offset).',
      labelNames: ['topic', 'partition'],
      registers,
      async collect() {
        this.reset();
        const lags = await sources.consumerLag().catch(() => []);
        for (const { topic, partition, lag } of lags) this.set({ topic, partition: String(partition) }, lag);
      },
    });
  }

  /** The pipeline handled one batch. */
  batch(observation: BatchObservation): void {
    this.consumed.inc({ topic: observation.topic }, observation.records);
    const byEncoding = new Map<string, number>();
    for (const event of observation.events) {
      byEncoding.set(event.encoding, (byEncoding.get(event.encoding) ?? 0) + 1);
      if (event.dlqReason !== null) this.dlq.inc({ reason: event.dlqReason });
    }
    for (const [encoding, count] of byEncoding) this.decoded.inc({ topic: observation.topic, encoding }, count);
    this.stageSeconds.observe({ stage: 'decode' }, observation.seconds.decode);
    this.stageSeconds.observe({ stage: 'correlate' }, observation.seconds.correlate);
    this.stageSeconds.observe({ stage: 'sinks' }, observation.seconds.sinks);
  }

  /** ClickHouse confirmed an audit insert. */
  inserted(rowsByTopic: ReadonlyMap<string, number>, seconds: number): void {
    let rows = 0;
    for (const [topic, count] of rowsByTopic) {
      this.audited.inc({ topic }, count);
      rows += count;
    }
    this.insertSeconds.observe(seconds);
    this.insertRows.observe(rows);
  }

  alert(alert: { agent: string; state: string; severity: string }): void {
    this.alerts.inc({ agent: alert.agent, state: alert.state, severity: alert.severity });
  }

  /** The observer of alert delivery (the DeliveryObserver of src/alert). */
  readonly delivery = {
    delivered: (destination: string): void => {
      this.deliveries.inc({ destination, outcome: 'delivered' });
    },
    failedAttempt: (destination: string): void => {
      this.deliveries.inc({ destination, outcome: 'failed_attempt' });
    },
    deadLettered: (destination: string): void => {
      this.deliveries.inc({ destination, outcome: 'dead_letter' });
      this.deadLetters.inc({ destination });
    },
    silenced: (destination: string): void => {
      this.deliveries.inc({ destination, outcome: 'silenced' });
    },
  };

  /** The Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
