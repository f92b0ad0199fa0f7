// One client of GET /v1/alerts/stream: Server-Sent Events from the alert feed. Every event's id is
// the client's position after it (next offset per anomalies-topic partition), so a reconnect with
// Last-Event-ID resumes exactly; alerts the client's filters leave out still move the position.
// A client that does not read (more than MAX_UNSENT_BYTES waiting) is disconnected, to reconnect
// with its Last-Event-ID, rather than buffered without bound.

import type { ServerResponse } from 'node:http';
import { formatPosition, type AlertFeed, type FeedEntry, type FeedPosition } from './alert-feed.js';

export interface StreamFilter {
  /** Only these agents (empty: all). */
  agents: ReadonlySet<string>;
  /** Only these severities (empty: all). */
  severities: ReadonlySet<string>;
}

const MAX_UNSENT_BYTES = 1 << 20;
/** The reconnection delay a client is told to use, in ms. */
const RETRY_MS = 2_000;

/** Serves one client until it goes or the returned function is called. */
export function serveAlertStream(
  feed: AlertFeed,
  response: ServerResponse,
  options: { position: FeedPosition | undefined; filter: StreamFilter; heartbeatMs: number },
): () => void {
  const position = options.position ?? feed.position();
  let closed = false;
  let unsubscribe = (): void => undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    response.end();
  };
  const write = (text: string): void => {
    if (closed) return;
    response.write(text);
    if (response.writableLength > MAX_UNSENT_BYTES) close(); // it reconnects with its last id
  };
  const send = (entry: FeedEntry): void => {
    if (entry.offset < (position.get(entry.partition) ?? 0n)) return; // seen before the reconnect
    position.set(entry.partition, entry.offset + 1n);
    const { alert } = entry.published;
    const wanted =
      (options.filter.agents.size === 0 || options.filter.agents.has(alert.agent)) &&
      (options.filter.severities.size === 0 || options.filter.severities.has(alert.severity));
    // An alert the filters leave out still moves the client's id (an event with an id and no data
    // sets Last-Event-ID without firing), so that its reconnect does not ask for it again.
    if (wanted) write(`id: ${formatPosition(position)}\nevent: alert\ndata: ${JSON.stringify(entry.record)}\n\n`);
    else write(`id: ${formatPosition(position)}\n\n`);
  };

  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  response.on('close', close);
  write(`retry: ${RETRY_MS}\n\n`);
  const { entries, gaps } = feed.since(position);
  for (const gap of gaps) {
    // Alerts no longer kept: say so, and move past them (GET /v1/anomalies has them).
    position.set(gap.partition, gap.to);
    write(
      `id: ${formatPosition(position)}\nevent: gap\ndata: ${JSON.stringify({ partition: gap.partition, from: String(gap.from), to: String(gap.to) })}\n\n`,
    );
  }
  // A new client: its position is "now", so that its first reconnect already resumes.
  if (options.position === undefined) write(`id: ${formatPosition(position)}\nevent: ready\ndata: {}\n\n`);
  for (const entry of entries) {
    if (closed) return close;
    send(entry);
  }
  if (closed) return close;
  unsubscribe = feed.subscribe(send);
  heartbeat = setInterval(() => write(': heartbeat\n\n'), options.heartbeatMs);
  return close;
}
