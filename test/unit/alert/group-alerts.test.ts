import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupAlerts, type GroupReport } from '../../../src/alert/index.js';

const report = (status: GroupReport['status'], reason = 'why'): GroupReport => ({
  group: 'workers-summarize',
  status,
  reason,
  lagRecords: 1_200,
  lagSeconds: 62,
  commitRate: 0,
  topics: ['agent.tasks.summarize'],
});

test('a group fires when STALLED, fires again on a new status with the same id, and resolves once OK', () => {
  const alerts = new GroupAlerts();
  assert.equal(alerts.evaluate(report('OK'), 1), undefined);
  assert.equal(alerts.evaluate(report('WARNING'), 2), undefined, 'WARNING is shown, not paged');
  const stalled = alerts.evaluate(report('STALLED', 'no commit for 60 s'), 3)!;
  assert.equal(stalled.state, 'FIRING');
  assert.equal(stalled.kind, 'consumer-group');
  assert.equal(stalled.agent, 'workers-summarize');
  assert.equal(stalled.capability, 'summarize');
  assert.equal(stalled.detail, 'STALLED: no commit for 60 s');
  assert.deepEqual(
    stalled.features.map((f) => [f.name, f.value]),
    [
      ['lag_records', 1_200],
      ['lag_seconds', 62],
      ['commit_rate', 0],
    ],
  );
  assert.equal(alerts.evaluate(report('STALLED'), 4), undefined, 'no repeat while the status holds');
  const stopped = alerts.evaluate(report('STOPPED', 'no members'), 5)!;
  assert.equal(stopped.state, 'FIRING');
  assert.equal(stopped.alertId, stalled.alertId, 'the same episode');
  assert.equal(alerts.firing(), 1);
  const resolved = alerts.evaluate(report('OK'), 9)!;
  assert.equal(resolved.state, 'RESOLVED');
  assert.equal(resolved.alertId, stalled.alertId);
  assert.equal(alerts.firing(), 0);
  assert.equal(alerts.evaluate(report('OK'), 10), undefined);
});
