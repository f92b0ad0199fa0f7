// Composes alert delivery for the service: silences (kept in the audit store, applied at publication
// and again at delivery), a delivery channel per webhook and Alertmanager, and the live feed of the
// anomalies topic for GET /v1/alerts/stream. Like service.ts, it wires stages; no stage imports it.

import { randomUUID } from 'node:crypto';
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
  type DeadLetter,
  type DeliveryObserver,
  serveAlertStream,
} from './alert/index.js';
import {
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

/** How often silences are re-read from the store (other instances may have added some). */
const SILENCE_REFRESH_MS = 10_000;
/** FIRING alerts published this recently are re-sent to Alertmanager after a restart. */
const FIRING_SEED_MS = 7 * 86_400_000;

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
  private readonly stopping = new AbortController();

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
        { apiUrl, resendMs: config.alertmanagerResendMs, timeoutMs: config.requestTimeoutMs },
        this.logger,
      );
      destination.seed(await this.firingAlerts());
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
          silences: this.silences,
          maxAttempts: config.maxAttempts,
          backoffMs: config.backoffMs,
          maxBackoffMs: config.maxBackoffMs,
          deadLetter: (letter) => this.storeDeadLetter(letter),
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
    this.stopping.abort();
    clearInterval(this.refresh);
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
  ): 'invalid-position' | 'served' {
    const position = lastEventId === undefined ? undefined : parsePosition(lastEventId);
    if (position === undefined && lastEventId !== undefined) return 'invalid-position';
    serveAlertStream(this.feed, response, {
      position,
      filter: { agents: new Set(filter.agents), severities: new Set(filter.severities) },
      heartbeatMs: this.options.config.streamHeartbeatMs,
    });
    return 'served';
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

  private async refreshSilences(): Promise<void> {
    try {
      const now = Date.now();
      this.silences.add(...(await readSilences(this.options.clickhouse, now)));
      this.silences.prune(now);
    } catch (err) {
      this.logger.warn({ err: messageOf(err) }, 'could not re-read silences; the ones known still apply');
    }
  }

  /** A dead letter is stored, whatever it takes: retried with backoff until the store takes it or agentwatch stops. */
  private async storeDeadLetter(letter: DeadLetter): Promise<void> {
    for (let backoff = 200; ; backoff = Math.min(backoff * 2, this.options.retryMaxMs)) {
      try {
        await insertDeadLetter(this.options.clickhouse, letter);
        return;
      } catch (err) {
        if (this.stopping.signal.aborted) throw err;
        this.logger.warn({ err: messageOf(err), alertId: letter.alertId }, 'could not store a dead letter; retrying');
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    }
  }

  /** Alerts still FIRING per the anomalies table (for Alertmanager after a restart). */
  private async firingAlerts(): Promise<AnomalyAlert[]> {
    const rows = await readFiringAlerts(this.options.clickhouse, FIRING_SEED_MS, Date.now()).catch((err: unknown) => {
      this.logger.warn({ err: messageOf(err) }, 'could not read firing alerts; Alertmanager learns them anew');
      return [];
    });
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
  };
}
