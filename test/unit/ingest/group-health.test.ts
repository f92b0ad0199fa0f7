// The consumer group status rules (Burrow's statuses) on plain observations: each rule, the order
// in which they apply, and the sequences the watch produces when workers stop committing or leave.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  classifyGroup,
  commitRate,
  commitsMoved,
  lagRecords,
  partitionLag,
  notAgentRecheckDue,
  NOT_AGENT_RECHECK_EVALUATIONS,
  type GroupObservation,
  type GroupStatus,
} from '../../../src/ingest/group-health.js';

const TOPIC = 'agent.tasks.summarize';

/** A group on one 2-partition topic; `committed` and `high` per partition. */
function seen(atMs: number, members: number, committed: [number, number], high: [number, number]): GroupObservation {
  return {
    atMs,
    state: members > 0 ? 'Stable' : 'Empty',
    members,
    partitions: [0, 1].map((partition) => ({
      topic: TOPIC,
      partition,
      committed: committed[partition]!,
      low: 0,
      high: high[partition]!,
    })),
  };
}

/** Runs the classifier over a sequence as the watch does: previous observation and the last 3 lags. */
function statuses(sequence: GroupObservation[]): GroupStatus[] {
  const lags: number[] = [];
  return sequence.map((current, i) => {
    const status = classifyGroup(sequence[i - 1], current, lags).status;
    lags.push(lagRecords(current));
    if (lags.length > 3) lags.shift();
    return status;
  });
}

describe('lag and commit rate', () => {
  test('lag counts from the committed offset, or from the low watermark when nothing is committed or it was deleted', () => {
    assert.equal(partitionLag({ topic: TOPIC, partition: 0, committed: 40, low: 10, high: 100 }), 60);
    assert.equal(partitionLag({ topic: TOPIC, partition: 0, committed: -1, low: 10, high: 100 }), 90);
    assert.equal(partitionLag({ topic: TOPIC, partition: 0, committed: 5, low: 10, high: 100 }), 90);
    assert.equal(partitionLag({ topic: TOPIC, partition: 0, committed: 120, low: 10, high: 100 }), 0);
    assert.equal(lagRecords(seen(0, 1, [40, 90], [100, 100])), 70);
  });

  test('commit rate is the committed advance per second, summed over partitions; resets and first commits add nothing', () => {
    assert.equal(commitRate(seen(0, 1, [0, 10], [50, 50]), seen(2_000, 1, [20, 30], [50, 50])), 20);
    assert.equal(commitRate(seen(0, 1, [40, -1], [50, 50]), seen(1_000, 1, [10, 30], [50, 50])), 0);
    assert.equal(commitRate(seen(0, 1, [1, 1], [9, 9]), seen(0, 1, [5, 5], [9, 9])), 0);
  });

  test('any committed offset that moved counts as a commit, also backwards and first ones', () => {
    assert.equal(commitsMoved(seen(0, 1, [5, 5], [9, 9]), seen(1, 1, [5, 5], [9, 9])), false);
    assert.equal(commitsMoved(seen(0, 1, [5, 5], [9, 9]), seen(1, 1, [5, 6], [9, 9])), true);
    assert.equal(commitsMoved(seen(0, 1, [5, 5], [9, 9]), seen(1, 1, [3, 5], [9, 9])), true);
    assert.equal(commitsMoved(seen(0, 1, [5, -1], [9, 9]), seen(1, 1, [5, 2], [9, 9])), true);
    // A partition that appears without a commit (-1) is not a commit.
    const onePartition = {
      ...seen(0, 1, [5, 5], [9, 9]),
      partitions: seen(0, 1, [5, 5], [9, 9]).partitions.slice(0, 1),
    };
    assert.equal(commitsMoved(onePartition, seen(1, 1, [5, -1], [9, 9])), false);
  });
});

describe('classifyGroup', () => {
  test('ERROR when the group could not be read, whatever came before', () => {
    const verdict = classifyGroup(seen(0, 1, [5, 5], [9, 9]), { atMs: 1_000, error: 'NOT_COORDINATOR' });
    assert.equal(verdict.status, 'ERROR');
    assert.match(verdict.reason, /NOT_COORDINATOR/);
  });

  test('the first evaluation is OK, STOPPED or ERROR, never STALLED or WARNING', () => {
    assert.equal(classifyGroup(undefined, seen(0, 2, [0, 0], [500, 500]), [10, 20, 30]).status, 'OK');
    assert.equal(classifyGroup(undefined, seen(0, 0, [0, 0], [500, 500])).status, 'STOPPED');
    assert.equal(classifyGroup(undefined, { atMs: 0, error: 'timeout' }).status, 'ERROR');
  });

  test('STALLED at the second evaluation after the members stop committing', () => {
    const sequence = [
      seen(0, 2, [100, 100], [110, 110]),
      seen(1_000, 2, [110, 120], [120, 125]), // committing
      seen(2_000, 2, [118, 126], [130, 131]), // commits stop right after this look's commits…
      seen(3_000, 2, [118, 126], [140, 141]), // …so this one sees none
      seen(4_000, 2, [118, 126], [150, 151]),
    ];
    assert.deepEqual(statuses(sequence), ['OK', 'OK', 'OK', 'STALLED', 'STALLED']);
    assert.match(
      classifyGroup(sequence[2], sequence[3]!).reason,
      /no committed offset moved in 1 s while 37 records wait/,
    );
  });

  test('not STALLED while caught up, nor when records arrived just before a look at an idle group', () => {
    assert.deepEqual(statuses([seen(0, 1, [50, 50], [50, 50]), seen(1_000, 1, [50, 50], [50, 50])]), ['OK', 'OK']);
    assert.deepEqual(
      statuses([
        seen(0, 1, [50, 50], [50, 50]),
        seen(1_000, 1, [50, 50], [53, 50]),
        seen(2_000, 1, [53, 50], [53, 50]),
      ]),
      ['OK', 'OK', 'OK'],
    );
  });

  test('a group whose members cannot be read (KIP-848) is never STOPPED, and STALLED when its commits stop', () => {
    const unknown = (atMs: number, committed: [number, number], high: [number, number]) => ({
      ...seen(atMs, 0, committed, high),
      members: -1,
      state: 'unknown (KIP-848)',
    });
    assert.equal(classifyGroup(undefined, unknown(0, [100, 100], [130, 130])).status, 'OK');
    const committing = classifyGroup(unknown(0, [100, 100], [130, 130]), unknown(1_000, [120, 125], [140, 140]));
    assert.equal(committing.status, 'OK');
    const stuck = classifyGroup(unknown(0, [100, 100], [130, 130]), unknown(1_000, [100, 100], [140, 140]));
    assert.equal(stuck.status, 'STALLED');
    assert.match(stuck.reason, /members unknown: a KIP-848 group/);
  });

  test('STOPPED when the members vanish while records wait; a memberless group that is caught up is OK', () => {
    const running = seen(0, 3, [100, 100], [120, 120]);
    assert.equal(classifyGroup(running, seen(1_000, 0, [100, 100], [130, 130])).status, 'STOPPED');
    // Scaled to zero with nothing waiting: nothing to page about (Burrow: zero lag is OK).
    assert.equal(classifyGroup(running, seen(1_000, 0, [100, 100], [100, 100])).status, 'OK');
    assert.equal(classifyGroup(undefined, seen(0, 0, [100, 100], [100, 100])).status, 'OK');
    const dead = { ...seen(1_000, 0, [100, 100], [130, 130]), state: 'Dead' };
    assert.match(classifyGroup(running, dead).reason, /no members \(state Dead\); 60 records waiting/);
  });

  test('a memberless group that still commits (assign()-based consumers) is judged by its commits', () => {
    const sequence = [
      seen(0, 0, [100, 100], [120, 120]),
      seen(1_000, 0, [115, 118], [130, 130]),
      seen(2_000, 0, [115, 118], [140, 140]),
    ];
    assert.deepEqual(statuses(sequence), ['STOPPED', 'OK', 'STOPPED']);
  });

  test('WARNING when commits move but the lag grew at each of the last 3 evaluations', () => {
    const growing = [
      seen(0, 1, [0, 0], [10, 10]),
      seen(1_000, 1, [10, 10], [30, 30]),
      seen(2_000, 1, [30, 30], [60, 60]),
      seen(3_000, 1, [60, 60], [100, 100]),
    ];
    assert.deepEqual(statuses(growing), ['OK', 'OK', 'OK', 'WARNING']);
    assert.match(
      classifyGroup(growing[2], growing[3]!, [20, 40, 60]).reason,
      /lag grew at each of the last 3 evaluations: 20 → 40 → 60 → 80 records/,
    );
    // Two growths, then a fall: OK.
    const recovering = [...growing.slice(0, 3), seen(3_000, 1, [60, 60], [70, 70])];
    assert.deepEqual(statuses(recovering), ['OK', 'OK', 'OK', 'OK']);
  });

  test('a stall outranks a growing lag, and no members outranks both', () => {
    const lags = [10, 20, 30];
    const before = seen(0, 1, [0, 0], [15, 15]);
    assert.equal(classifyGroup(before, seen(1_000, 1, [0, 0], [20, 20]), lags).status, 'STALLED');
    assert.equal(classifyGroup(before, seen(1_000, 0, [0, 0], [20, 20]), lags).status, 'STOPPED');
  });
});

test("another application's group is due once in every NOT_AGENT_RECHECK_EVALUATIONS evaluations, such groups spread over them", () => {
  const perEvaluation = new Array<number>(NOT_AGENT_RECHECK_EVALUATIONS).fill(0);
  for (let g = 0; g < 1_000; g += 1) {
    const groupId = `payments-consumer-${g}`;
    for (let from = 1; from <= 3 * NOT_AGENT_RECHECK_EVALUATIONS; from += 7) {
      let due = 0;
      for (let e = from; e < from + NOT_AGENT_RECHECK_EVALUATIONS; e += 1) if (notAgentRecheckDue(groupId, e)) due += 1;
      assert.equal(due, 1, `${groupId} from ${from}`);
    }
    for (let e = 0; e < NOT_AGENT_RECHECK_EVALUATIONS; e += 1)
      if (notAgentRecheckDue(groupId, e)) perEvaluation[e]! += 1;
  }
  // Spread: no evaluation rechecks more than twice its share.
  for (const n of perEvaluation)
    assert.ok(n > 0 && n < (2 * 1_000) / NOT_AGENT_RECHECK_EVALUATIONS, String(perEvaluation));
});
