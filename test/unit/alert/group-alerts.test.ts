import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_PAGES_AFTER, GroupAlerts, type GroupReport } from '../../../src/alert/index.js';

const report = (status: GroupReport['status'], reason = 'why', groupId = 'workers-summarize'): GroupReport => ({
  groupId,
  status,
  reason,
  lagRecords: 1_200,
  lagSeconds: 62,
  commitRate: 0,
  topics: ['agent.tasks.summarize'],
});

const states = (out: ReturnType<GroupAlerts['evaluate']>) => out.map((o) => `${o.alert.agent}/${o.alert.state}`);

test('a group fires when STALLED, fires again on a new status with the same id and labels, and resolves once OK', () => {
  const alerts = new GroupAlerts();
  assert.deepEqual(alerts.evaluate([report('OK')], 1), []);
  assert.deepEqual(alerts.evaluate([report('WARNING')], 2), [], 'WARNING is shown, not paged');
  const [stalled] = alerts.evaluate([report('STALLED', 'no commit for 60 s')], 3).map((o) => o.alert);
  assert.equal(stalled!.state, 'FIRING');
  assert.equal(stalled!.kind, 'consumer-group');
  assert.equal(stalled!.capability, 'summarize');
  assert.equal(stalled!.detail, 'STALLED: no commit for 60 s');
  assert.deepEqual(
    stalled!.features.map((f) => [f.name, f.value]),
    [
      ['lag_records', 1_200],
      ['lag_seconds', 62],
      ['commit_rate', 0],
    ],
  );
  assert.deepEqual(alerts.evaluate([report('STALLED')], 4), [], 'no repeat while the status holds');
  const [stopped] = alerts.evaluate([{ ...report('STOPPED', 'no members'), topics: [] }], 5).map((o) => o.alert);
  assert.equal(stopped!.state, 'FIRING');
  assert.equal(stopped!.alertId, stalled!.alertId, 'the same episode');
  assert.equal(stopped!.severity, stalled!.severity);
  assert.equal(stopped!.capability, 'summarize', 'the same labels');
  const [resolved] = alerts.evaluate([report('OK')], 9).map((o) => o.alert);
  assert.equal(resolved!.state, 'RESOLVED');
  assert.equal(resolved!.alertId, stalled!.alertId);
  assert.equal(alerts.firing(), 0);
  assert.deepEqual(alerts.evaluate([report('OK')], 10), []);
});

test(`ERROR pages only after ${ERROR_PAGES_AFTER} evaluations in a row, and does not resolve an open alert`, () => {
  const alerts = new GroupAlerts();
  for (let i = 1; i < ERROR_PAGES_AFTER; i += 1) assert.deepEqual(alerts.evaluate([report('ERROR')], i), []);
  assert.deepEqual(alerts.evaluate([report('OK')], 10), [], 'the streak ends');
  for (let i = 1; i < ERROR_PAGES_AFTER; i += 1) alerts.evaluate([report('ERROR')], 10 + i);
  assert.deepEqual(states(alerts.evaluate([report('ERROR')], 20)), ['workers-summarize/FIRING']);

  const stalled = new GroupAlerts();
  stalled.evaluate([report('STALLED')], 1);
  assert.deepEqual(stalled.evaluate([report('ERROR')], 2), [], 'one failed read neither pages nor resolves');
  assert.equal(stalled.firing(), 1);
});

test('a group that no longer reads agent topics resolves; a failed publication is raised again', () => {
  const alerts = new GroupAlerts();
  alerts.evaluate([report('STOPPED', 'no members', 'a'), report('OK', 'fine', 'b')], 1);
  const gone = alerts.evaluate([report('OK', 'fine', 'b')], 2);
  assert.deepEqual(states(gone), ['a/RESOLVED']);
  assert.match(gone[0]!.alert.detail!, /no longer reads agent topics/);
  assert.equal(gone[0]!.alert.capability, 'summarize');

  const retry = new GroupAlerts();
  const [first] = retry.evaluate([report('STALLED')], 1);
  first!.undo();
  assert.deepEqual(states(retry.evaluate([report('STALLED')], 2)), ['workers-summarize/FIRING']);

  // An undo that comes after a later evaluation changed the group leaves the later change alone.
  const late = new GroupAlerts();
  const [stalled] = late.evaluate([report('STALLED')], 1);
  const [stopped] = late.evaluate([report('STOPPED')], 2);
  stalled!.undo();
  assert.equal(late.firing(), 1, 'the STOPPED page is still tracked');
  const [resolved] = late.evaluate([report('OK')], 3);
  assert.equal(resolved!.alert.alertId, stopped!.alert.alertId);
});

test('alerts firing before a restart resolve when their group is OK', () => {
  const before = new GroupAlerts();
  const [fired] = before.evaluate([report('STOPPED', 'no members')], 1);
  const after = new GroupAlerts();
  after.restore([fired!.alert]);
  assert.deepEqual(after.evaluate([report('STOPPED')], 2), [], 'still the same page');
  const [resolved] = after.evaluate([report('OK')], 3);
  assert.equal(resolved!.alert.alertId, fired!.alert.alertId);
  assert.equal(resolved!.alert.state, 'RESOLVED');
});
