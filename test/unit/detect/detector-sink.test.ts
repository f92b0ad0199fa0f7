// The detector as a pipeline sink: a batch offered again after its alerts failed to go out is not
// counted twice, its alerts are delivered again, and the window observer sees each window once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import type { CorrelatedBatch } from '../../../src/correlate/index.js';
import { Detector, DetectorSink, type AnomalyAlert, type WindowReport } from '../../../src/detect/index.js';
import { correlatedInOrder } from '../../../bench/detection/fleet-replay.js';
import { fleetProfiles, generateFleet } from '../../../src/sim/index.js';

const WINDOW = 10_000;

const HOUR = 3_600_000;

/** The fleet's busiest capability, with a latency fault after its warm-up. */
function batchesWithAFault(): { batches: CorrelatedBatch[]; faulty: string } {
  const profiles = fleetProfiles(7, 3, [1, 1]);
  const faulty = [...profiles].sort((a, b) => b.ratePerSecond - a.ratePerSecond)[0]!.capability;
  const run = generateFleet({
    seed: 7,
    capabilities: 3,
    workersPerCapability: [1, 1],
    durationMs: HOUR + 10 * WINDOW,
    faults: [{ kind: 'latency-x4', capability: faulty, startMs: HOUR, durationMs: 20 * 60_000 }],
  });
  const batches = correlatedInOrder(run.events, WINDOW).map((b) => ({ topic: 't', partition: 0, ...b }));
  return { batches, faulty };
}

test('a batch offered again after failed delivery is detected once, its alerts delivered again; each window observed once', async () => {
  const detector = new Detector(loadConfig({}).detect);
  const delivered: AnomalyAlert[][] = [];
  let failNext = false;
  const observed: WindowReport[] = [];
  const sink = new DetectorSink(
    detector,
    async (alerts) => {
      if (failNext && alerts.length > 0) {
        failNext = false;
        throw new Error('anomalies topic unavailable');
      }
      delivered.push([...alerts]);
    },
    (windows) => observed.push(...windows),
  );

  let retried = 0;
  const { batches, faulty } = batchesWithAFault();
  for (const batch of batches) {
    const scoredBefore = detector.stats().windowsScored;
    failNext = retried === 0;
    try {
      await sink.accept(batch);
    } catch {
      retried += 1;
      const afterTheBatch = detector.stats();
      const scoredByTheBatch = afterTheBatch.windowsScored;
      await sink.accept(batch); // the pipeline offers the same batch again
      assert.deepEqual(detector.stats(), afterTheBatch, 'the batch is not added to the detector twice');
      assert.ok(scoredByTheBatch > scoredBefore);
    }
  }
  const firing = delivered.flat().filter((a) => a.state === 'FIRING');
  assert.equal(retried, 1, 'one delivery failed');
  assert.deepEqual(
    firing.map((a) => a.agent),
    [faulty],
    'the alert went out once delivery worked',
  );
  assert.equal(
    observed.filter((w) => w.score.score !== null).length,
    detector.stats().windowsScored,
    'every scored window observed once (warm-up windows are observed unscored)',
  );
  assert.equal(new Set(observed.map((w) => `${w.agent}@${w.windowStart}`)).size, observed.length);
});

test('detectedThrough: windows count as detected only once their alerts were delivered (a failed delivery holds it back)', async () => {
  const detector = new Detector(loadConfig({}).detect);
  let release: (() => void) | undefined;
  let fail = false;
  const sink = new DetectorSink(detector, async () => {
    if (fail) throw new Error('anomalies topic unavailable');
    await new Promise<void>((resolve) => (release = resolve));
  });
  const { batches } = batchesWithAFault();
  assert.equal(sink.detectedThrough(), Number.NEGATIVE_INFINITY);
  const [first, second, third] = [batches[10]!, batches[40]!, batches[80]!];

  const delivering = sink.accept(first);
  assert.equal(sink.detectedThrough(), Number.NEGATIVE_INFINITY, 'closed, but its alerts are on the way');
  release!();
  await delivering;
  const afterFirst = detector.closedThrough();
  assert.equal(sink.detectedThrough(), afterFirst);

  fail = true;
  await assert.rejects(sink.accept(second));
  assert.ok(detector.closedThrough() > afterFirst);
  assert.equal(sink.detectedThrough(), afterFirst, 'a batch whose alerts failed to go out holds it back');
  fail = false;
  const again = sink.accept(second); // offered again
  release!();
  await again;
  assert.equal(sink.detectedThrough(), detector.closedThrough());

  const last = sink.accept(third);
  release!();
  await last;
  assert.equal(sink.detectedThrough(), detector.closedThrough());
});
