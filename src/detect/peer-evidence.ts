// A worker against the other workers of its capability in the same window: is it the worker, or
// the capability? Same tests as against a baseline (evidence.ts), with the peers' window as the
// reference: the latency median and payload mean against the peers' mean and spread of
// ln(1 + v) (the standard error of both sides), the failure count against the peers' share. Only
// worse-way changes past the minimum effect count; D² is the sum of their squares, with the
// chi-bar-squared null distribution of independent features (threshold.ts).

import { binomialZ } from './evidence.js';
import { BOTH, movedWorse, type FeatureName } from './features.js';
import { ScoreDistribution } from './threshold.js';
import type { SampleStats, WindowAccumulator } from './window-accumulator.js';

const SIGMA_FLOOR = 0.05;
const PROPORTION_FLOOR = 0.002;

export interface PeerScore {
  d2: number;
  /** Per compared feature: its z against the peers (NaN without data on either side). */
  z: Partial<Record<FeatureName, number>>;
}

/** Direction and minimum effect of a feature, by name. */
export type FeatureRule = (name: FeatureName) => { direction: number; minEffect: number };

export const PEER_DISTRIBUTION = new ScoreDistribution(1, 2); // payload both ways; latency, failures one way

export function peerScore(worker: WindowAccumulator, peers: WindowAccumulator, rule: FeatureRule): PeerScore {
  const z: PeerScore['z'] = {};
  let d2 = 0;
  const count = (name: FeatureName, zi: number, effect: number, large = true) => {
    z[name] = zi;
    const { direction, minEffect } = rule(name);
    if (large && movedWorse(direction, effect, minEffect) && (direction === BOTH || Math.sign(zi) === direction))
      d2 += zi * zi;
  };
  const latency = centre(worker.latency, peers.latency, true);
  if (latency !== undefined) count('latency_p50', latency.z, latency.ratio - 1);
  const payload = centre(worker.resultPayload, peers.resultPayload, false); // a worker's windows hold its results
  if (payload !== undefined) count('payload_bytes_mean', payload.z, payload.ratio - 1);
  if (worker.answers > 0 && peers.answers > 0) {
    const share = Math.max(PROPORTION_FLOOR, (peers.failures + 1) / (peers.answers + 100));
    const observed = worker.failures / worker.answers;
    // As against a baseline, a rise in failures counts only once it at least doubled the peers' share.
    count('failure_rate', binomialZ(worker.failures, worker.answers, share), observed - share, observed >= 2 * share);
  }
  return { d2, z };
}

/** The worker's median (latency) or mean (sizes) of ln(1 + v) against the peers' mean: z and ratio. */
function centre(worker: SampleStats, peers: SampleStats, median: boolean): { z: number; ratio: number } | undefined {
  if (worker.count === 0 || peers.count < 2) return undefined;
  const mu = peers.meanLog();
  const sigma = Math.max(SIGMA_FLOOR, Math.sqrt(Math.max(0, peers.sumLogSquares / peers.count - mu * mu)));
  const own = median ? Math.log1p(worker.quantile(0.5)) : worker.meanLog();
  const ownVariance = (sigma * sigma * (median ? Math.PI / 2 : 1)) / worker.count;
  const z = (own - mu) / Math.sqrt(ownVariance + (sigma * sigma) / peers.count);
  return { z, ratio: Math.exp(own - mu) };
}
