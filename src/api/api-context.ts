// What the API needs from the rest of agentwatch, handed in by the composition root.

import type { ClickHouseClient } from '../audit/index.js';
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
}
