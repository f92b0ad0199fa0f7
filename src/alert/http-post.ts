// One HTTP POST of a delivery attempt, with a time limit, sorted into success, a failure worth
// retrying (network errors, time-outs, 408, 425, 429, 5xx) and one that is not (other 4xx: the
// receiver refuses this request and will refuse it again).

import { createHash } from 'node:crypto';

export class DeliveryFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'DeliveryFailure';
  }
}

const RETRYABLE_STATUS = new Set([408, 425, 429]);
/** Most characters of a refusing receiver's answer kept in the error (and the dead letter). */
const MAX_ANSWER_CHARS = 300;

export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<void> {
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'agentwatch', ...headers },
      body,
      signal,
      redirect: 'error',
    });
  } catch (err) {
    const reason = options.signal.aborted
      ? 'agentwatch is stopping'
      : signal.aborted
        ? `no answer within ${options.timeoutMs} ms`
        : describeFetchError(err);
    throw new DeliveryFailure(reason, true);
  }
  if (response.ok) {
    await response.body?.cancel();
    return;
  }
  const answer = (await response.text().catch(() => '')).slice(0, MAX_ANSWER_CHARS);
  throw new DeliveryFailure(
    `HTTP ${response.status}${answer === '' ? '' : `: ${answer}`}`,
    response.status >= 500 || RETRYABLE_STATUS.has(response.status),
  );
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

/**
 * A URL as it may be logged and used as a metric label: scheme and host, and for the rest (path,
 * query: Slack, Discord and Teams webhooks carry their secret in the path) only a short hash that
 * tells two URLs of one host apart. No user or password.
 */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const rest = `${parsed.pathname}${parsed.search}`;
    const origin = `${parsed.protocol}//${parsed.host}`;
    if (rest === '/' || rest === '') return origin;
    return `${origin}/…#${createHash('sha256').update(url).digest('hex').slice(0, 8)}`;
  } catch {
    return '(invalid URL)';
  }
}
