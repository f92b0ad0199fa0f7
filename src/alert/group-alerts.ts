// Alerts of the agents' consumer groups: FIRING when a group is STALLED or STOPPED (or in ERROR for
// ERROR_PAGES_AFTER evaluations in a row: one failed read is not a page), RESOLVED when it is OK or
// WARNING again, or no longer reads agent topics. WARNING (lag growing while commits move) is shown,
// not paged. They go out like detection's alerts (anomalies topic, webhooks, Alertmanager) with kind
// consumer-group, agent = the group, lag_records, lag_seconds and commit_rate as features, and the
// status and its reason as detail. One episode keeps one alert id and one severity (major), so its
// labels stay the same in Alertmanager while its status moves between STALLED and STOPPED.

import type { AnomalyAlert } from '../detect/index.js';

/** What the group watch reports of a group (ingest/group-health.ts). */
export interface GroupReport {
  groupId: string;
  status: 'OK' | 'WARNING' | 'STALLED' | 'STOPPED' | 'ERROR';
  reason: string;
  lagRecords: number;
  lagSeconds: number;
  commitRate: number;
  topics: readonly string[];
}

/** Evaluations in a row a group must be unreadable before it pages. */
export const ERROR_PAGES_AFTER = 3;

interface OpenAlert {
  onset: number;
  /** The status it last paged with. */
  status: GroupReport['status'];
  /** The last alert sent, for its RESOLVED. */
  last: AnomalyAlert;
}

export class GroupAlerts {
  private readonly open = new Map<string, OpenAlert>();
  private readonly errorStreak = new Map<string, number>();

  /** Alerts still firing from before a restart (from the anomalies table), so that they resolve. */
  restore(alerts: readonly AnomalyAlert[]): void {
    for (const alert of alerts) {
      if (alert.kind !== 'consumer-group' || alert.state !== 'FIRING') continue;
      const status = /^(STALLED|STOPPED|ERROR):/.exec(alert.detail ?? '')?.[1] as GroupReport['status'] | undefined;
      this.open.set(alert.agent, { onset: alert.onset, status: status ?? 'STALLED', last: alert });
    }
  }

  /**
   * The alerts one evaluation of every watched group calls for (`reports`): new FIRING, FIRING with a
   * new status, RESOLVED. Each comes with `undo`, to call when it could not be published, so that the
   * next evaluation raises it again.
   */
  evaluate(reports: readonly GroupReport[], now: number): Array<{ alert: AnomalyAlert; undo: () => void }> {
    const out: Array<{ alert: AnomalyAlert; undo: () => void }> = [];
    const seen = new Set<string>();
    for (const report of reports) {
      seen.add(report.groupId);
      const streak = report.status === 'ERROR' ? (this.errorStreak.get(report.groupId) ?? 0) + 1 : 0;
      if (streak === 0) this.errorStreak.delete(report.groupId);
      else this.errorStreak.set(report.groupId, streak);
      const current = this.open.get(report.groupId);
      const pages =
        report.status === 'STALLED' ||
        report.status === 'STOPPED' ||
        (report.status === 'ERROR' && streak >= ERROR_PAGES_AFTER);
      if (pages) {
        if (current !== undefined && current.status === report.status) continue;
        const fresh = groupAlert(report, 'FIRING', current?.onset ?? now, now);
        const alert = current === undefined ? fresh : { ...fresh, capability: current.last.capability };
        const entry = { onset: alert.onset, status: report.status, last: alert };
        this.open.set(report.groupId, entry);
        out.push({ alert, undo: () => this.reset(report.groupId, entry, current) });
      } else if (current !== undefined && report.status !== 'ERROR') {
        out.push(this.resolve(report.groupId, current, report, now));
      }
    }
    for (const [group, current] of this.open) {
      if (seen.has(group)) continue;
      // No longer among the agents' groups (deleted, or its offsets on agent topics expired).
      this.errorStreak.delete(group);
      const report = { ...reportOf(current.last), status: 'OK' as const, reason: 'no longer reads agent topics' };
      out.push(this.resolve(group, current, report, now));
    }
    return out;
  }

  /** Groups with an alert firing. */
  firing(): number {
    return this.open.size;
  }

  private resolve(
    group: string,
    current: OpenAlert,
    report: GroupReport,
    now: number,
  ): { alert: AnomalyAlert; undo: () => void } {
    this.open.delete(group);
    // The labels of its FIRING (Alertmanager identifies an alert by them).
    const alert = { ...groupAlert(report, 'RESOLVED', current.onset, now), capability: current.last.capability };
    return { alert, undo: () => this.reset(group, undefined, current) };
  }

  /**
   * Undoes one evaluation's change to `group` (`set`: the entry it set, undefined when it resolved),
   * back to `previous`, unless a later evaluation changed the group since: its change stands.
   */
  private reset(group: string, set: OpenAlert | undefined, previous: OpenAlert | undefined): void {
    if (this.open.get(group) !== set) return;
    if (previous === undefined) this.open.delete(group);
    else this.open.set(group, previous);
  }
}

function reportOf(alert: AnomalyAlert): GroupReport {
  const value = (name: string) => alert.features.find((f) => f.name === name)?.value ?? 0;
  return {
    groupId: alert.agent,
    status: 'OK',
    reason: '',
    lagRecords: value('lag_records'),
    lagSeconds: value('lag_seconds'),
    commitRate: value('commit_rate'),
    topics: [],
  };
}

function groupAlert(report: GroupReport, state: AnomalyAlert['state'], onset: number, now: number): AnomalyAlert {
  const feature = (name: string, value: number) => ({ name, value, baselineMean: 0, z: Number.NaN, contribution: 0 });
  return {
    alertId: `${report.groupId}@group@${onset}`,
    agent: report.groupId,
    capability: capabilitiesOf(report.topics),
    scope: 'capability',
    kind: 'consumer-group',
    state,
    severity: 'major',
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
