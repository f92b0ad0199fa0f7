// What the API needs from the rest of agentwatch, handed in by the composition root.

import type { ServerResponse } from 'node:http';
import type { ClickHouseClient, SilenceRecord } from '../audit/index.js';
import type { ApiConfig } from '../config/index.js';
import type { ClockFinding } from '../correlate/index.js';
import type { AgentSnapshot, AnomalyAlert } from '../detect/index.js';

export interface ApiContext {
  clickhouse: ClickHouseClient;
  config: ApiConfig;
  /** The detector's current view of every agent. */
  agents: () => AgentSnapshot[];
  /**
   * Accepts an agent's current behaviour as its new normal on behalf of `by` (an API key name): the
   * RESOLVED alerts (its incident's, its drift's, or both) once delivered like any other, or why not.
   */
  acceptBaseline: (agent: string, by: string) => Promise<AnomalyAlert[] | 'unknown' | 'not-firing'>;
  /** Producers whose records carry timestamps no clock explains. */
  clockFindings: () => ClockFinding[];
  /** The Prometheus text exposition, for /metrics. */
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** name → answers, for /readyz, and why a check fails (e.g. which partition stalled on which step). */
  readiness: () => Promise<{ checks: Record<string, boolean>; reasons: string[] }>;
  /** Alert delivery: the live stream, silences, and the agents' consumer groups. */
  alerts: AlertsContext;
}

export interface AlertsContext {
  /**
   * Serves GET /v1/alerts/stream on `response` (the route has hijacked the reply) from `lastEventId`
   * (undefined: from now); 'invalid-position' (nothing written) when lastEventId is not a stream id.
   */
  openStream(
    response: ServerResponse,
    lastEventId: string | undefined,
    filter: { agents: readonly string[]; severities: readonly string[] },
  ): 'invalid-position' | 'too-many' | 'served';
  /** Ends every live stream (the API is closing). */
  closeStreams(): void;
  /** Stores a silence and applies it at once; a string says what is wrong with it. */
  addSilence(silence: Omit<SilenceRecord, 'id' | 'createdAt'>): Promise<SilenceRecord | string>;
  /** Silences not yet ended. */
  silences(): SilenceRecord[];
  /** A silence was ended early (in the store): stop applying it. */
  silenceEnded(id: string): Promise<void>;
  /** The agents' consumer groups as last evaluated. */
  consumerGroups(): ReadonlyArray<Record<string, unknown>>;
}
