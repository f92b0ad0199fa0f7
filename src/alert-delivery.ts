// Composes alert delivery for the service: silences (kept in the audit store, applied at publication
// and again at delivery), a delivery channel per webhook and Alertmanager, and the live feed of the
// anomalies topic for GET /v1/alerts/stream. Like service.ts, it wires stages; no stage imports it.

import { createHash, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import {
  AlertFeed,
  AlertmanagerDestination,
  DeliveryChannel,
  SilenceBook,
  WebhookDestination,
  alertLabels,
  compileMatcher,
  parsePosition,
  type AlertDestination,
  type AvroAlert,
  type DeliveryObserver,
  serveAlertStream,
} from './alert/index.js';
import {
  destinationSince,
  firingSilencedBy,
  insertDeadLetter,
  insertSilence,
  readFiringAlerts,
  readSilences,
  type ClickHouseClient,
  type SilenceRecord,
} from './audit/index.js';
import type { AlertDeliveryConfig } from './config/index.js';
import type { AnomalyAlert } from './detect/index.js';
import { messageOf } from './errors.js';
import type { Logger } from './logger.js';

/** Most live streams at once (each may hold up to 1 MiB unsent). */
const MAX_STREAMS = 100;
/** How often silences are re-read from the store (other instances may have added some). */
const SILENCE_REFRESH_MS = 10_000;
/**
 * FIRING alerts published this recently (and not resolved since) count as still firing. An incident
 * is accepted as the new normal long before (DETECT_ACCEPT_AFTER_MS), and a consumer group stopped
 * this long has lost its offsets (offsets.retention, 7 days by default) and resolves.
 */
const FIRING_WITHIN_MS = 30 * 86_400_000;

export interface AlertDeliveryOptions {
  config: AlertDeliveryConfig;
  /** The API's base URL for links, when API_PUBLIC_URL is not set (known once the API listens). */
  apiUrl: () => string;
  topic: string;
  groupId: string;
  kafka: Kafka;
  registry: SchemaRegistry;
  clickhouse: ClickHouseClient;
  observer: DeliveryObserver;
  /** Partitions of the anomalies topic delivered concurrently. */
  partitions: number;
  retryMaxMs: number;
}

export class AlertDelivery {
  readonly silences = new SilenceBook();
  private readonly channels: DeliveryChannel[] = [];
  private readonly feed: AlertFeed;
  private refresh: NodeJS.Timeout | undefined;
  /** Open live streams: each one's close. */
  private readonly streams = new Set<() => void>();

  constructor(
    private readonly options: AlertDeliveryOptions,
    private readonly logger: Logger,
  ) {
    const decode = (value: Buffer): Promise<AvroAlert> => options.registry.decode(value) as Promise<AvroAlert>;
    this.feed = new AlertFeed(
      options.kafka,
      { topic: options.topic, groupId: options.groupId, keep: options.config.streamBuffer, decode },
      logger,
    );
  }

  /** Loads the silences, then starts the feed and a channel per destination (before any alert is published). */
  async start(): Promise<void> {
    const { config, clickhouse } = this.options;
    this.silences.add(...(await readSilences(clickhouse, Date.now())));
    this.refresh = setInterval(() => void this.refreshSilences(), SILENCE_REFRESH_MS);
    this.refresh.unref();
    await this.feed.start();
    const publicUrl = config.publicUrl;
    const apiUrl = publicUrl === undefined ? this.options.apiUrl : () => publicUrl;
    const destinations: AlertDestination[] = [];
    for (const url of config.alertmanagerUrls) {
      const destination = new AlertmanagerDestination(
        url,
        {
          apiUrl,
          resendMs: config.alertmanagerResendMs,
          timeoutMs: config.requestTimeoutMs,
          firing: () => this.firingAlerts({ includeSilenced: false }),
        },
        this.logger,
      );
      destinations.push(destination);
    }
    for (const url of config.webhookUrls)
      destinations.push(
        new WebhookDestination(url, { secret: config.webhookSecret, apiUrl, timeoutMs: config.requestTimeoutMs }),
      );
    for (const destination of destinations) {
      const channel = new DeliveryChannel(
        this.options.kafka,
        destination,
        {
          topic: this.options.topic,
          groupId: this.options.groupId,
          decode: (value) => this.options.registry.decode(value) as Promise<AvroAlert>,
          since: (groupHasCommits) =>
            destinationSince(
              this.options.clickhouse,
              { id: createHash('sha256').update(destination.key).digest('hex'), name: destination.name },
              Date.now(),
              groupHasCommits,
            ),
          firingSilencedBy: (alertId) => firingSilencedBy(this.options.clickhouse, alertId),
          silences: this.silences,
          maxAttempts: config.maxAttempts,
          backoffMs: config.backoffMs,
          maxBackoffMs: config.maxBackoffMs,
          deadLetter: (letter) => insertDeadLetter(this.options.clickhouse, letter),
          observer: this.options.observer,
          partitionsConcurrently: Math.max(1, Math.min(8, this.options.partitions)),
        },
        this.logger,
      );
      await channel.start();
      this.channels.push(channel);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.refresh);
    this.closeStreams();
    await Promise.all([...this.channels.map((c) => c.stop()), this.feed.stop()]);
  }

  /** The silence covering `alert` now, if any. */
  silenceOf(alert: AnomalyAlert): string | null {
    return this.silences.match(alertLabels(alert), Date.now())?.id ?? null;
  }

  stats(): Array<{ destination: string } & ReturnType<DeliveryChannel['stats']>> {
    return this.channels.map((c) => ({ destination: c.destination.name, ...c.stats() }));
  }

  openStream(
    response: ServerResponse,
    lastEventId: string | undefined,
    filter: { agents: readonly string[]; severities: readonly string[] },
  ): 'invalid-position' | 'too-many' | 'served' {
    const position = lastEventId === undefined ? undefined : parsePosition(lastEventId);
    if (position === undefined && lastEventId !== undefined) return 'invalid-position';
    if (this.streams.size >= MAX_STREAMS) return 'too-many';
    const close = serveAlertStream(this.feed, response, {
      position,
      filter: { agents: new Set(filter.agents), severities: new Set(filter.severities) },
      heartbeatMs: this.options.config.streamHeartbeatMs,
    });
    this.streams.add(close);
    response.on('close', () => this.streams.delete(close));
    return 'served';
  }

  /** Ends every live stream (before the API closes: an open stream would hold its close forever). */
  closeStreams(): void {
    for (const close of this.streams) close();
    this.streams.clear();
  }

  async addSilence(silence: Omit<SilenceRecord, 'id' | 'createdAt'>): Promise<SilenceRecord | string> {
    for (const matcher of silence.matchers) {
      const compiled = compileMatcher(matcher);
      if (typeof compiled === 'string') return compiled;
    }
    const record: SilenceRecord = { ...silence, id: randomUUID(), createdAt: Date.now() };
    await insertSilence(this.options.clickhouse, record);
    this.silences.add(record);
    return record;
  }

  async silenceEnded(id: string): Promise<void> {
    this.silences.remove(id);
    await this.refreshSilences();
  }

  private async refreshSilences(): Promise<void> {
    try {
      const now = Date.now();
      this.silences.replaceAll(await readSilences(this.options.clickhouse, now), now);
    } catch (err) {
      this.logger.warn({ err: messageOf(err) }, 'could not re-read silences; the ones known still apply');
    }
  }

  /** Alerts FIRING and not resolved, per the anomalies table (with those silenced at publication, or not). */
  async firingAlerts(options: { includeSilenced: boolean }): Promise<AnomalyAlert[]> {
    const rows = await readFiringAlerts(this.options.clickhouse, FIRING_WITHIN_MS, Date.now(), options);
    return rows.map(storedAlert);
  }
}

/** An alert as recordAlerts stored it in the anomalies table. */
function storedAlert(row: Record<string, unknown>): AnomalyAlert {
  return {
    alertId: String(row.alert_id),
    agent: String(row.agent),
    capability: String(row.capability),
    scope: row.scope === 'worker' ? 'worker' : 'capability',
    kind: row.kind === 'drift' ? 'drift' : row.kind === 'consumer-group' ? 'consumer-group' : 'incident',
    state: 'FIRING',
    severity: row.severity === 'critical' ? 'critical' : row.severity === 'major' ? 'major' : 'minor',
    onset: Number(row.onset),
    windowStart: Number(row.window_start),
    windowEnd: Number(row.window_end),
    score: Number(row.score),
    threshold: Number(row.threshold),
    pValue: Number(row.p_value),
    resolution: null,
    acceptedBy: null,
    features: (JSON.parse(String(row.features)) as AnomalyAlert['features']).map((f) => ({
      ...f,
      value: f.value ?? Number.NaN,
    })),
    examples: JSON.parse(String(row.examples)) as AnomalyAlert['examples'],
    ...(typeof row.detail === 'string' && row.detail !== '' ? { detail: row.detail } : {}),
  };
}
