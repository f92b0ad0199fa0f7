// The event clock: the minimum over active partitions; quiet partitions drop out; a silent fleet's
// clock moves on; no single record (stamped in 2100 or 1970) moves it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventClock } from '../../../src/correlate/index.js';

const T0 = Date.UTC(2026, 11, 1, 12);
const options = { maxSkewMs: 300_000, idleMs: 15_000, speed: 1, anchor: { event: 0, wall: 0 } };

describe('EventClock', () => {
  test('is the oldest watermark among active partitions, backlogged or live', () => {
    const clock = new EventClock(options);
    const wall = T0 + 200_000;
    clock.observe('results:0', T0 + 5_000, false, wall);
    clock.observe('tasks:0', T0 + 100_000, false, wall);
    assert.equal(clock.now(wall), T0 + 5_000, 'the lagging results partition holds the clock back');
    clock.observe('results:0', T0 + 20_000, true, wall);
    assert.equal(clock.now(wall), T0 + 20_000, 'caught up and not yet idle: it still holds the clock');
    clock.observe('tasks:0', T0 + 120_000, true, wall);
    assert.equal(clock.now(wall), T0 + 20_000);
  });

  test('a caught-up partition quiet for the idle timeout drops out; a backlogged one never does', () => {
    const clock = new EventClock(options);
    clock.observe('quiet:0', T0, true, T0);
    clock.observe('backlog:0', T0 + 1_000, false, T0);
    clock.observe('busy:0', T0 + 10_000, true, T0 + 10_000);
    assert.equal(clock.now(T0 + 10_000), T0);
    clock.observe('busy:0', T0 + 20_000, true, T0 + 20_000);
    assert.equal(clock.now(T0 + 20_000), T0 + 1_000, 'quiet:0 dropped out after 15 s; the backlogged partition holds');
    clock.observe('backlog:0', T0 + 30_000, true, T0 + 30_000);
    assert.equal(clock.now(T0 + 30_000), T0 + 20_000, 'busy:0 is now the oldest active one');
  });

  test('a partition held at its end never drops out while held, and does once released and quiet', () => {
    const clock = new EventClock(options);
    clock.observe('ahead:0', T0 + 400_000, true, T0); // read to its end, far ahead of the others
    clock.observe('behind:0', T0, false, T0);
    clock.hold('ahead:0'); // the tap paused it
    clock.observe('behind:0', T0 + 390_000, true, T0 + 60_000); // caught up, then silent
    assert.equal(clock.now(T0 + 70_000), T0 + 390_000);
    assert.equal(clock.now(T0 + 80_000), T0 + 400_000, 'behind:0 idle; ahead:0, held, still holds the clock');
    clock.release('ahead:0', T0 + 80_000);
    assert.equal(clock.now(T0 + 90_000), T0 + 400_000, 'released: quiet only since then');
    // Quiet for the idle time since its release, with nothing more to read: the fleet is silent and
    // event time moves on (a held partition left "backlogged" would hold it at T0 + 400 s for good).
    assert.equal(clock.now(T0 + 96_000), T0 + 390_000 + 36_000 - 15_000);
  });

  test("the idle timeout is event time, and never less than 5 s of wall time (a consumer's fetch cycle at 60×)", () => {
    const clock = new EventClock({ ...options, speed: 60, anchor: { event: T0, wall: T0 } });
    clock.observe('quiet:0', T0, true, T0);
    clock.observe('busy:0', T0 + 60_000, true, T0 + 200);
    assert.equal(clock.now(T0 + 200), T0, 'quiet for 12 s of event time: still active');
    clock.observe('busy:0', T0 + 66_000, true, T0 + 300);
    assert.equal(
      clock.now(T0 + 300),
      T0,
      'quiet for 18 s of event time but 0.3 s of wall time: its next batch may be on the way',
    );
    clock.observe('busy:0', T0 + 200_000, true, T0 + 2_000);
    assert.equal(clock.now(T0 + 2_000), T0, 'quiet for 2 s of wall time: a delivery hiccup under load, still active');
    clock.observe('busy:0', T0 + 400_000, true, T0 + 5_000);
    assert.equal(clock.now(T0 + 5_000), T0 + 400_000, 'quiet for 5 s of wall time: dropped out');
  });

  test('a stalled pipeline is not quiet time: no partition goes idle, the clock does not run on', () => {
    const clock = new EventClock(options);
    clock.observe('a:0', T0, true, T0);
    clock.observe('b:0', T0 + 1_000, true, T0 + 1_000);
    clock.stalled(T0 + 3_000, T0 + 2_000); // a batch stuck on a sink from T0 + 3 s
    assert.equal(clock.now(T0 + 60_000), T0, 'stalled from 3 s: a:0 quiet for 3 s only, nothing idle');
    clock.stalled(undefined, T0 + 60_000); // the sink came back
    assert.equal(clock.now(T0 + 60_000), T0);
    assert.equal(
      clock.now(T0 + 72_000),
      T0 + 1_000,
      'a:0 quiet for 3 + 12 = 15 s: idle now; b:0 (quiet 14 s) holds the clock',
    );
    assert.equal(clock.now(T0 + 80_000), T0 + 8_000, 'both idle: on from the newest record, the stall left out');
    const unstalled = new EventClock(options);
    unstalled.observe('a:0', T0, true, T0);
    unstalled.observe('b:0', T0 + 1_000, true, T0 + 1_000);
    assert.equal(
      unstalled.now(T0 + 60_000),
      T0 + 45_000,
      'without the stall, the same minute of silence moves the clock 45 s on',
    );
  });

  test('when every partition is idle, event time moves on from the newest record, less the idle timeout', () => {
    const clock = new EventClock(options);
    clock.observe('a:0', T0, true, T0);
    clock.observe('b:0', T0 + 4_000, true, T0 + 4_000);
    assert.equal(clock.now(T0 + 4_000), T0);
    assert.equal(clock.now(T0 + 19_000), T0 + 4_000, 'both idle: the newest record, once the idle timeout passed');
    assert.equal(clock.now(T0 + 79_000), T0 + 64_000, 'then with the wall clock');
  });

  test('never goes backwards', () => {
    const clock = new EventClock(options);
    clock.observe('a:0', T0 + 10, true, T0);
    assert.equal(clock.now(T0), T0 + 10);
    clock.resetPartitions();
    clock.observe('b:0', T0, false, T0);
    assert.equal(clock.now(T0), T0 + 10);
  });

  test('a partition announced with a backlog holds the clock before it delivered anything', () => {
    const clock = new EventClock(options);
    clock.expect('results:0', T0);
    clock.observe('tasks:0', T0 + 50_000, false, T0);
    assert.equal(clock.now(T0 + 600_000), Number.NEGATIVE_INFINITY);
  });

  test('a range with nothing to deliver (an aborted transaction) catches a partition up without counting as a record', () => {
    const clock = new EventClock(options);
    clock.expect('aborting:0', T0); // a backlog that turns out to be one aborted transaction
    clock.observe('live:0', T0 + 50_000, true, T0);
    clock.admit('aborting:0', [], true, T0 + 1_000);
    // Aborted transactions again, more often than the idle timeout, and one on a partition the clock
    // does not know: no record among them, so neither holds the clock once 15 s passed since
    // aborting:0 was announced (counted as records, they held it at -Infinity).
    clock.admit('aborting:0', [], true, T0 + 10_000);
    clock.admit('never-seen:0', [], true, T0 + 10_000);
    clock.observe('live:0', T0 + 60_000, true, T0 + 10_000);
    assert.equal(clock.now(T0 + 14_000), Number.NEGATIVE_INFINITY, 'caught up, not idle yet: it still holds');
    assert.equal(clock.now(T0 + 16_000), T0 + 60_000, 'idle: only live:0 holds the clock');
  });

  test('records stamped in 2100 or 1970 are outliers and move nothing; ordinary lateness is not', () => {
    const clock = new EventClock(options);
    const wall = T0 + 1_000;
    clock.observe('a:0', T0, true, wall);
    clock.observe('b:0', T0 + 500, true, wall);
    assert.equal(clock.classify('a:0', Date.UTC(2100, 0, 1), wall), 'ahead');
    assert.equal(clock.classify('a:0', 0, wall), 'behind');
    assert.equal(clock.classify('a:0', T0 - 60_000, wall), null, 'a minute late is late, not a broken clock');
    assert.equal(clock.classify('a:0', wall + 200_000, wall), null, 'within the skew allowed ahead');
    assert.equal(clock.classify('a:0', T0 - 400_000, wall, T0), 'behind', 'behind the newest record of its own batch');
    assert.equal(clock.now(wall), T0, 'classification alone never moves the clock');
  });

  test('an accelerated simulation declares its clock: records hours ahead of the wall clock are then on time', () => {
    const origin = T0;
    const clock = new EventClock({ ...options, speed: 60, anchor: { event: origin, wall: origin } });
    const wall = origin + 3_600_000; // one wall hour: 60 hours of event time
    assert.equal(clock.classify('a:0', origin + 60 * 3_600_000, wall), null);
    assert.equal(clock.classify('a:0', origin + 61 * 3_600_000, wall), 'ahead');
    assert.equal(
      new EventClock(options).classify('a:0', origin + 60 * 3_600_000, wall),
      'ahead',
      'undeclared, the same record is ahead',
    );
  });
});
