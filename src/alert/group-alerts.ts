// Alerts of the agents' consumer groups: FIRING when a group becomes STALLED, STOPPED or ERROR,
// RESOLVED when it is OK again (WARNING, lag growing while commits move, is shown but not paged).
// They go out like detection's alerts (anomalies topic, webhooks, Alertmanager) with kind
// consumer-group, agent = the group, and lag_records, lag_seconds and commit_rate as features.

import type { AnomalyAlert } from '../detect/index.js';

/** What the group watch reports of a group (ingest/group-health.ts). */
export interface GroupReport {
  group: string;
  status: 'OK' | 'WARNING' | 'STALLED' | 'STOPPED' | 'ERROR';
  reason: string;
  lagRecords: number;
  lagSeconds: number;
  commitRate: number;
  topics: readonly string[];
}

const PAGED = new Set<GroupReport['status']>(['STALLED', 'STOPPED', 'ERROR']);

export class GroupAlerts {
  /** Open alerts by group: onset (wall ms) and the status that opened it. */
  private readonly open = new Map<string, { onset: number; status: GroupReport['status'] }>();

  /** The alert a group's evaluation calls for, if any: a new FIRING, a FIRING with a new status, or a RESOLVED. */
  evaluate(report: GroupReport, now: number): AnomalyAlert | undefined {
    const current = this.open.get(report.group);
    if (PAGED.has(report.status)) {
      if (current !== undefined && current.status === report.status) return undefined;
      const onset = current?.onset ?? now;
      this.open.set(report.group, { onset, status: report.status });
      return groupAlert(report, 'FIRING', onset, now);
    }
    if (current === undefined) return undefined;
    this.open.delete(report.group);
    return groupAlert(report, 'RESOLVED', current.onset, now);
  }

  /** Groups with an alert firing. */
  firing(): number {
    return this.open.size;
  }
}

function groupAlert(report: GroupReport, state: AnomalyAlert['state'], onset: number, now: number): AnomalyAlert {
  const feature = (name: string, value: number) => ({ name, value, baselineMean: 0, z: Number.NaN, contribution: 0 });
  return {
    alertId: `${report.group}@group@${onset}`,
    agent: report.group,
    capability: capabilitiesOf(report.topics),
    scope: 'capability',
    kind: 'consumer-group',
    state,
    severity: report.status === 'ERROR' ? 'minor' : 'major',
    onset,
    windowStart: onset,
    windowEnd: now,
    // A consumer group's status is a rule, not a score: no distance, threshold or p-value.
    score: 0,
    threshold: 0,
    pValue: 1,
    resolution: state === 'RESOLVED' ? 'recovered' : null,
    acceptedBy: null,
    features: [
      feature('lag_records', report.lagRecords),
      feature('lag_seconds', report.lagSeconds),
      feature('commit_rate', report.commitRate),
    ],
    examples: [],
    detail: `${report.status}: ${report.reason}`,
  };
}

/** The capabilities of agent topics (agent.tasks.<capability>), comma-separated; else the topics. */
function capabilitiesOf(topics: readonly string[]): string {
  const names = new Set(topics.map((t) => /^agent\.(?:tasks|results)\.(.+)$/.exec(t)?.[1] ?? t));
  return [...names].sort().join(',');
}
