// A webhook: each alert POSTed as Alertmanager webhook v4 JSON, signed with HMAC-SHA256 over
// "<timestamp>.<body>" when ALERT_WEBHOOK_SECRET is set (the timestamp lets receivers refuse replays).

import { createHmac } from 'node:crypto';
import type { AnomalyAlert } from '../detect/index.js';
import { toWebhookBody } from './alert-labels.js';
import type { AlertDestination } from './delivery-channel.js';
import { postJson, safeUrl } from './http-post.js';

export const SIGNATURE_HEADER = 'x-agentwatch-signature';
export const TIMESTAMP_HEADER = 'x-agentwatch-timestamp';

/** The signature header's value: v1=<hex HMAC-SHA256 of "<timestamp>.<body>"> with timestamp in Unix seconds. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class WebhookDestination implements AlertDestination {
  readonly name: string;
  readonly key: string;

  constructor(
    readonly url: string,
    private readonly options: { secret: string | undefined; apiUrl: () => string; timeoutMs: number },
  ) {
    this.name = `webhook ${safeUrl(url)}`;
    this.key = `webhook ${url}`;
  }

  async send(alert: AnomalyAlert, signal: AbortSignal): Promise<void> {
    const now = Date.now();
    const body = JSON.stringify(toWebhookBody(alert, { apiUrl: this.options.apiUrl(), now }));
    const timestamp = String(Math.floor(now / 1000));
    const headers: Record<string, string> = {
      [TIMESTAMP_HEADER]: timestamp,
      // The same alert state is the same delivery, whatever attempt: receivers can drop a repeat.
      'idempotency-key': `${alert.alertId}/${alert.state}`,
    };
    if (this.options.secret !== undefined)
      headers[SIGNATURE_HEADER] = webhookSignature(this.options.secret, timestamp, body);
    await postJson(this.url, body, headers, { timeoutMs: this.options.timeoutMs, signal });
  }
}
