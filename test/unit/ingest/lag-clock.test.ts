// Lag in seconds from a table of (high watermark, wall time) samples: interpolation, the bounds of
// the table, and a stopped consumer whose lag keeps growing with wall time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LagClock, PartitionClock } from '../../../src/ingest/lag-clock.js';

/** A partition written at `perSecond` records/s from offset 0 at time 0, sampled every `everyMs`. */
function steadyPartition(perSecond: number, everyMs: number, untilMs: number, maxSamples?: number): PartitionClock {
  const clock = new PartitionClock(maxSamples);
  for (let t = 0; t <= untilMs; t += everyMs) clock.record(Math.floor((t / 1000) * perSecond), t);
  return clock;
}

describe('PartitionClock', () => {
  test('interpolates the time the watermark passed the committed offset', () => {
    const clock = new PartitionClock();
    clock.record(0, 0);
    clock.record(100, 10_000);
    // Record 49 exists once the watermark reached 50: halfway, at 5 s.
    assert.deepEqual(clock.secondsBehind(49, 20_000), { seconds: 15, lowerBound: false });
    // Record 99, the last one, at 10 s.
    assert.deepEqual(clock.secondsBehind(99, 20_000), { seconds: 10, lowerBound: false });
  });

  test('nothing waiting is 0 seconds, however long ago the last record came', () => {
    const clock = new PartitionClock();
    clock.record(10, 0);
    clock.record(10, 60_000);
    assert.deepEqual(clock.secondsBehind(10, 3_600_000), { seconds: 0, lowerBound: false });
    assert.deepEqual(clock.secondsBehind(12, 3_600_000), { seconds: 0, lowerBound: false });
  });

  test('a record older than the oldest sample counts from that sample and says it is a lower bound', () => {
    const clock = new PartitionClock();
    clock.record(1_000, 5_000);
    clock.record(1_100, 6_000);
    assert.deepEqual(clock.secondsBehind(200, 9_000), { seconds: 4, lowerBound: true });
  });

  test('no sample yet: unknown', () => {
    assert.equal(new PartitionClock().secondsBehind(0, 1_000), undefined);
  });

  test('an idle partition keeps two samples, and its next record is dated by the latest look, not the first', () => {
    const clock = new PartitionClock();
    clock.record(10, 0);
    for (let t = 1_000; t <= 50_000; t += 1_000) clock.record(10, t);
    assert.equal(clock.size, 2);
    clock.record(11, 51_000);
    // Record 10 was written between 50 s and 51 s; dating it by the first look (0 s) would say 61 s.
    const behind = clock.secondsBehind(10, 61_000);
    assert.ok(behind !== undefined && behind.seconds <= 11 && behind.seconds >= 10, JSON.stringify(behind));
  });

  test('the table stays bounded, keeps its oldest sample, and stays exact for a steady stream', () => {
    const clock = steadyPartition(100, 1_000, 3_600_000);
    assert.ok(clock.size <= 64, `size ${clock.size}`);
    assert.ok(clock.size >= 32, `size ${clock.size}: thinning went too far`);
    assert.deepEqual(clock.samples()[0], { offset: 0, atMs: 0 });
    // Every kept sample lies on the line offset = t/10, so interpolation stays exact anywhere.
    for (const committed of [99, 12_345, 180_000 - 1, 359_000 - 1]) {
      const behind = clock.secondsBehind(committed, 3_600_000);
      const writtenAt = ((committed + 1) / 100) * 1000;
      assert.ok(behind !== undefined && !behind.lowerBound);
      assert.ok(
        Math.abs(behind.seconds - (3_600_000 - writtenAt) / 1000) < 1e-6,
        `committed ${committed}: ${behind.seconds}`,
      );
    }
    // The newest samples are kept at full resolution.
    const newest = clock.samples().slice(-10);
    assert.ok(newest.every((s, i) => i === 0 || s.atMs - newest[i - 1]!.atMs === 1_000));
  });

  test('a stopped consumer falls behind in seconds as wall time passes, while producers write and after they stop', () => {
    const clock = new PartitionClock();
    const committed = 500; // the consumer stopped here; record 500 was written at 5.01 s (100 records/s)
    const seen: number[] = [];
    clock.record(0, 0);
    for (let t = 10_000; t <= 120_000; t += 10_000) {
      clock.record(t <= 60_000 ? t / 10 : 6_000, t); // producers stop at 60 s
      seen.push(Math.round(clock.secondsBehind(committed, t)!.seconds * 100) / 100);
    }
    assert.deepEqual(seen, [4.99, 14.99, 24.99, 34.99, 44.99, 54.99, 64.99, 74.99, 84.99, 94.99, 104.99, 114.99]);
  });

  test('a watermark that went back (topic created again) starts the table over', () => {
    const clock = new PartitionClock();
    clock.record(0, 0);
    clock.record(1_000, 10_000);
    clock.record(5, 20_000);
    assert.deepEqual(clock.samples(), [{ offset: 5, atMs: 20_000 }]);
    assert.deepEqual(clock.secondsBehind(0, 30_000), { seconds: 10, lowerBound: true });
  });

  test('a sample older than the newest (the wall clock went back) is ignored', () => {
    const clock = new PartitionClock();
    clock.record(0, 10_000);
    clock.record(100, 20_000);
    clock.record(150, 15_000);
    assert.deepEqual(clock.samples(), [
      { offset: 0, atMs: 10_000 },
      { offset: 100, atMs: 20_000 },
    ]);
  });

  test('too small a table is refused', () => {
    assert.throws(() => new PartitionClock(3), RangeError);
  });
});

describe('LagClock', () => {
  test('keeps one table per topic-partition', () => {
    const clock = new LagClock();
    clock.record('agent.tasks.a', 0, 0, 0);
    clock.record('agent.tasks.a', 0, 100, 10_000);
    clock.record('agent.tasks.a', 1, 100, 10_000);
    assert.deepEqual(clock.secondsBehind('agent.tasks.a', 0, 49, 10_000), { seconds: 5, lowerBound: false });
    assert.deepEqual(clock.secondsBehind('agent.tasks.a', 1, 49, 10_000), { seconds: 0, lowerBound: true });
    assert.equal(clock.secondsBehind('agent.tasks.b', 0, 49, 10_000), undefined);
  });

  test('refuses partitions past its cap and counts them', () => {
    const clock = new LagClock({ maxPartitions: 2 });
    assert.equal(clock.record('t', 0, 1, 0), true);
    assert.equal(clock.record('t', 1, 1, 0), true);
    assert.equal(clock.record('t', 2, 1, 0), false);
    assert.equal(clock.record('t', 0, 2, 1_000), true); // a known partition is still sampled
    assert.deepEqual(clock.stats(), { partitions: 2, refusedSamples: 1 });
  });

  test('forgets the partitions of topics no longer watched', () => {
    const clock = new LagClock();
    clock.record('agent.tasks.a', 0, 1, 0);
    clock.record('agent.tasks.b:odd', 3, 1, 0);
    clock.record('agent.tasks.c', 0, 1, 0);
    clock.retainTopics(new Set(['agent.tasks.b:odd']));
    assert.equal(clock.stats().partitions, 1);
    assert.notEqual(clock.secondsBehind('agent.tasks.b:odd', 3, 0, 0), undefined);
  });
});
