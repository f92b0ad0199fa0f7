// ScorerOptions from the detector configuration: the same defaults for the live path and `agentwatch score`.

import type { DetectConfig } from '../config/index.js';
import type { ScorerOptions } from './window-scorer.js';

export function scorerOptions(
  config: DetectConfig,
  sigmaFloor: Float64Array,
  warmupWindows = config.warmupWindows,
  oneSided = 0,
): ScorerOptions {
  return {
    warmupWindows,
    oneSided,
    baseline: { memoryWindows: config.memoryWindows, shrinkage: config.shrinkage ?? sigmaFloor.length, sigmaFloor },
    threshold: {
      p: config.p,
      stayP: config.stayP,
      atOnceP: config.atOnceP,
      mode: config.threshold,
      empiricalWindow: 1000,
      empiricalMinimum: 100,
    },
  };
}
