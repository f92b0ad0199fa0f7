// An Alertmanager (v2 API): each alert POSTed to /api/v2/alerts as it comes, and every alert still
// firing sent again every ALERTMANAGER_RESEND_MS, as Prometheus does. Each send says the alert ends 4
// resend intervals later, so Alertmanager resolves it by itself if agentwatch stops; while agentwatch
// runs, only a RESOLVED alert ends it.
//
// What is still firing is read from the anomalies table at each round (the latest state of each alert
// published in the last 7 days, not silenced at publication): the same answer after a restart and on
// every instance, and an alert resolved anywhere stops being refreshed. Sends and refresh rounds take
// turns, and an alert this process resolved is left out of refreshes, so a refresh never re-fires an
// alert whose RESOLVED was just sent.

import type { AnomalyAlert } from '../detect/index.js';
import type { Logger } from '../logger.js';
import { toAlertmanagerAlert } from './alert-labels.js';
import type { AlertDestination } from './delivery-channel.js';
import { postJson, safeUrl } from './http-post.js';

/** Alerts per refresh request. */
const RESEND_CHUNK = 500;
/** Alert ids resolved here are left out of refreshes for this many resend intervals (the table catches up meanwhile). */
const RESOLVED_MEMORY_ROUNDS = 10;
const MAX_RESOLVED_REMEMBERED = 10_000;

export class AlertmanagerDestination implements AlertDestination {
  readonly name: string;
  readonly key: string;
  private readonly endpoint: string;
  /** Alert ids resolved (or given up) here, and when. */
  private readonly resolved = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private resending: Promise<void> | undefined;
  /** Sends and refresh chunks one at a time. */
  private turn: Promise<unknown> = Promise.resolve();
  private readonly stopping = new AbortController();
  private resends = 0;

  constructor(
    url: string,
    private readonly options: {
      apiUrl: () => string;
      resendMs: number;
      timeoutMs: number;
      /** The alerts still firing (the anomalies table). */
      firing: () => Promise<AnomalyAlert[]>;
    },
    private readonly logger: Logger,
  ) {
    this.endpoint = `${url.replace(/\/+$/, '')}/api/v2/alerts`;
    this.name = `alertmanager ${safeUrl(url)}`;
    this.key = `alertmanager ${url}`;
  }

  async send(alert: AnomalyAlert, signal: AbortSignal): Promise<void> {
    await this.inTurn(async () => {
      await this.post([alert], signal);
      // Within the turn: a refresh chunk waiting for the next turn already sees it resolved.
      if (alert.state === 'RESOLVED') this.forget(alert);
    });
  }

  /** Alertmanager takes a RESOLVED alert it never saw and notifies nobody: always send it. */
  owesResolve(): boolean {
    return true;
  }

  forget(alert: AnomalyAlert): void {
    this.resolved.set(alert.alertId, Date.now());
    if (this.resolved.size > MAX_RESOLVED_REMEMBERED) {
      const oldest = this.resolved.keys().next().value;
      if (oldest !== undefined) this.resolved.delete(oldest);
    }
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

  /** Refresh rounds made. */
  resendCount(): number {
    return this.resends;
  }

  private async resend(): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.resolved)
      if (now - at > RESOLVED_MEMORY_ROUNDS * this.options.resendMs) this.resolved.delete(id);
    try {
      const firing = await this.options.firing();
      for (let i = 0; i < firing.length; i += RESEND_CHUNK) {
        await this.inTurn(async () => {
          // Checked in turn: a RESOLVED sent while this round ran is not undone.
          const chunk = firing.slice(i, i + RESEND_CHUNK).filter((a) => !this.resolved.has(a.alertId));
          if (chunk.length > 0) await this.post(chunk, this.stopping.signal);
        });
      }
      this.resends += 1;
    } catch (err) {
      // The next round tries again; alerts expire in Alertmanager only after 4 missed rounds.
      this.logger.warn(
        { destination: this.name, err: (err as Error).message },
        'could not refresh firing alerts in Alertmanager',
      );
    }
  }

  private inTurn(step: () => Promise<void>): Promise<void> {
    const run = this.turn.then(step);
    this.turn = run.catch(() => undefined);
    return run;
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
