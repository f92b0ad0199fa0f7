// An Alertmanager (v2 API): each alert POSTed to /api/v2/alerts as it comes, and every FIRING alert
// sent to it delivered again every ALERTMANAGER_RESEND_MS while it lasts, as Prometheus does. Each
// send says the alert ends 4 resend intervals later, so Alertmanager resolves it by itself if
// agentwatch stops; while agentwatch runs, only a RESOLVED alert ends it.

import type { AnomalyAlert } from '../detect/index.js';
import type { Logger } from '../logger.js';
import { toAlertmanagerAlert } from './alert-labels.js';
import type { AlertDestination } from './delivery-channel.js';
import { postJson, safeUrl } from './http-post.js';

/** Alerts per resend request. */
const RESEND_CHUNK = 500;

export class AlertmanagerDestination implements AlertDestination {
  readonly name: string;
  readonly key: string;
  private readonly endpoint: string;
  /** FIRING alerts sent, by alert id, until their RESOLVED is sent. */
  private readonly firing = new Map<string, AnomalyAlert>();
  private timer: NodeJS.Timeout | undefined;
  private resending: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private resends = 0;

  constructor(
    url: string,
    private readonly options: { apiUrl: () => string; resendMs: number; timeoutMs: number },
    private readonly logger: Logger,
  ) {
    this.endpoint = `${url.replace(/\/+$/, '')}/api/v2/alerts`;
    this.name = `alertmanager ${safeUrl(url)}`;
    this.key = `alertmanager ${url}`;
  }

  async send(alert: AnomalyAlert, signal: AbortSignal): Promise<void> {
    await this.post([alert], signal);
  }

  sent(alert: AnomalyAlert): void {
    if (alert.state === 'FIRING') this.firing.set(alert.alertId, alert);
    else this.firing.delete(alert.alertId);
  }

  /** FIRING alerts sent before a restart (from the anomalies table), so that they keep being refreshed. */
  seed(alerts: readonly AnomalyAlert[]): void {
    for (const alert of alerts) if (alert.state === 'FIRING') this.firing.set(alert.alertId, alert);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.resending ??= this.resend().finally(() => (this.resending = undefined));
    }, this.options.resendMs);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.stopping.abort();
    await this.resending;
  }

  /** Resend rounds made. */
  resendCount(): number {
    return this.resends;
  }

  firingCount(): number {
    return this.firing.size;
  }

  private async resend(): Promise<void> {
    const alerts = [...this.firing.values()];
    if (alerts.length === 0) return;
    try {
      for (let i = 0; i < alerts.length; i += RESEND_CHUNK)
        await this.post(alerts.slice(i, i + RESEND_CHUNK), this.stopping.signal);
      this.resends += 1;
    } catch (err) {
      // The next round tries again; alerts expire in Alertmanager only after 4 missed rounds.
      this.logger.warn(
        { destination: this.name, firing: alerts.length, err: (err as Error).message },
        'could not refresh firing alerts in Alertmanager',
      );
    }
  }

  private async post(alerts: readonly AnomalyAlert[], signal: AbortSignal): Promise<void> {
    const now = Date.now();
    const body = JSON.stringify(
      alerts.map((alert) =>
        toAlertmanagerAlert(alert, { apiUrl: this.options.apiUrl(), now, expiresInMs: 4 * this.options.resendMs }),
      ),
    );
    await postJson(this.endpoint, body, {}, { timeoutMs: this.options.timeoutMs, signal });
  }
}
