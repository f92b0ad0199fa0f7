// An agent's learned normal behaviour in its own units, and the count-aware evidence of a window
// (or a pool of recent windows) against it. Learned only from windows proven normal (see
// incident-tracker.ts), with exponential forgetting:
//   rate:        requests per window, an EWMA over `rateMemoryWindows` (short, to follow daily load);
//   latency and payload size: the mean and variance of ln(1 + v), with samples beyond the
//                baseline's 99th percentile (mean + 2.326 sd) counted at that limit (winsorised), and
//                the share of samples beyond it, learned rather than assumed, so a heavier tail than
//                the lognormal's is not an anomaly. Winsorising keeps a slow tail from widening the
//                very limit it is measured against, yet lets a limit that is too low move up;
//   proportions: retries per request, timeouts per request, failures per answer, with a prior of one
//                in a hundred so that a new agent's first failure is not infinitely surprising.
// All as exponentially weighted sums: S ← αS + x, α = 1 − 1/memory.

import { binomialZ, meanZ, poissonZ } from './evidence.js';
import { BOTH, FEATURE_COUNT, UP, movedWorse } from './features.js';
import type { SampleStats, WindowAccumulator } from './window-accumulator.js';

export interface ProfileOptions {
  /** Memory of the request rate, in windows (follows load cycles). */
  rateMemoryWindows: number;
  /** Memory of latency, size and proportion baselines, in windows. */
  memoryWindows: number;
}

/** z of the 99th percentile of a normal distribution. */
const Z99 = 2.3263;
const Z95 = 1.6449;
/** payload_bytes_mean and payload_bytes_p95, in FEATURES order. */
const PAYLOAD_FEATURES = [6, 7] as const;

/** Standard deviation of a normal distribution winsorised at its 99th percentile, in units of the original. */
const WINSORISED_SD = 0.991;
/** Smallest per-sample standard deviation of ln(1 + v): 5 %. */
const SIGMA_FLOOR = 0.05;
/** Prior of proportions and tail shares: `PRIOR_HITS` in `PRIOR_TRIALS`. */
const PRIOR_HITS = 1;
const PRIOR_TRIALS = 100;
/** In the recovery test, a window's level counts at most this many standard errors beyond the baseline's or the incident's. */
const OUTLIER_Z = 2;
/** Smallest baseline proportion a count is tested against. */
const PROPORTION_FLOOR = 0.002;

/** One feature's evidence in one window: signed z and whether the change is large enough, in the worse direction. */
export interface Evidence {
  /** Signed z per feature (NaN: no data for it); positive means higher than the baseline. */
  z: Float64Array;
  /** Whether each feature changed at least its minimum effect, in its worse direction. */
  worse: Uint8Array;
  /** The window's value per feature, in the feature's unit (NaN: no data). */
  value: Float64Array;
  /** The baseline's value per feature, in the same unit. */
  expected: Float64Array;
}

/**
 * Where each part of a profile lives in its one array of doubles (AgentProfile.state): the request
 * and answer rates, then three SampleBaselines (latency, request and result payload sizes) of five
 * sums each, then three ProportionBaselines (retries, timeouts, failures) of two.
 */
const AT = {
  rateSum: 0,
  answerSum: 1,
  rateWeight: 2,
  latency: 3,
  requestPayload: 8,
  resultPayload: 13,
  retries: 18,
  timeouts: 20,
  failures: 22,
  end: 24,
} as const;

/** The mean and spread of ln(1 + v) of a latency or size, and its share beyond its 99th percentile: a view of five of a profile's sums. */
class SampleBaseline {
  constructor(
    private readonly state: number[],
    /** Where its sums start in `state`: weight, Σ, Σ², tail hits, tail trials. */
    readonly at: number,
  ) {}

  get known(): boolean {
    return this.state[this.at]! > 0;
  }

  /** Samples learned, exponentially weighted. */
  get samples(): number {
    return this.state[this.at]!;
  }

  mean(): number {
    return this.state[this.at + 1]! / this.state[this.at]!;
  }

  sigma(): number {
    const s = this.state;
    const at = this.at;
    const mean = this.mean();
    // Samples beyond the 99th percentile count at it: a normal winsorised there has 0.991 of the sd.
    const winsorised = s[at + 4]! > 0 ? WINSORISED_SD : 1;
    return Math.max(SIGMA_FLOOR, Math.sqrt(Math.max(0, s[at + 2]! / s[at]! - mean * mean)) / winsorised);
  }

  /** The value beyond which the baseline expects about 1 % of samples. */
  tailLimit(): number {
    return Math.expm1(this.mean() + Z99 * this.sigma());
  }

  tailShare(): number {
    const s = this.state;
    return Math.max(PROPORTION_FLOOR, (s[this.at + 3]! + PRIOR_HITS) / (s[this.at + 4]! + PRIOR_TRIALS));
  }

  learn(samples: SampleStats, alpha: number): void {
    if (samples.count === 0) return;
    const s = this.state;
    const at = this.at;
    let { sumLog, sumLogSquares } = samples;
    if (this.known) {
      const limit = this.tailLimit();
      const within = samples.momentsUpTo(limit);
      const beyond = samples.count - within.count;
      const atLimit = Math.log1p(limit);
      sumLog = within.sumLog + beyond * atLimit;
      sumLogSquares = within.sumLogSquares + beyond * atLimit * atLimit;
      s[at + 3] = alpha * s[at + 3]! + beyond;
      s[at + 4] = alpha * s[at + 4]! + samples.count;
    }
    s[at] = alpha * s[at]! + samples.count;
    s[at + 1] = alpha * s[at + 1]! + sumLog;
    s[at + 2] = alpha * s[at + 2]! + sumLogSquares;
  }
}

/** A share (retries per request, timeouts, failures per answer): a view of two of a profile's sums, hits and trials. */
class ProportionBaseline {
  constructor(
    private readonly state: number[],
    private readonly at: number,
  ) {}

  /** Trials learned, exponentially weighted. */
  get weight(): number {
    return this.state[this.at + 1]!;
  }

  share(): number {
    return Math.max(PROPORTION_FLOOR, (this.state[this.at]! + PRIOR_HITS) / (this.state[this.at + 1]! + PRIOR_TRIALS));
  }

  learn(hits: number, trials: number, alpha: number): void {
    if (trials === 0) return;
    const s = this.state;
    s[this.at] = alpha * s[this.at]! + hits;
    s[this.at + 1] = alpha * s[this.at + 1]! + trials;
  }
}

export class AgentProfile {
  private learned = 0;
  /**
   * Everything learned, in one array of doubles (V8 keeps them unboxed there), at the offsets above;
   * the baselines are views of it made when asked for. Six baseline objects with their sums boxed
   * took about 830 bytes per profile, and there are two per capability (the drift reference).
   */
  private readonly state: number[] = new Array<number>(AT.end).fill(0);

  constructor(private readonly options: ProfileOptions) {}

  private get rateAlpha(): number {
    return 1 - 1 / this.options.rateMemoryWindows;
  }

  private get alpha(): number {
    return 1 - 1 / this.options.memoryWindows;
  }

  /** The latency or payload size baseline whose sums start at `at` (AT.latency, AT.requestPayload, AT.resultPayload). */
  private samplesAt(at: number): SampleBaseline {
    return new SampleBaseline(this.state, at);
  }

  /** The share baseline whose sums start at `at` (AT.retries, AT.timeouts, AT.failures). */
  private shareAt(at: number): ProportionBaseline {
    return new ProportionBaseline(this.state, at);
  }

  /** Windows learned. */
  get windows(): number {
    return this.learned;
  }

  /** Expected requests per window. */
  requestsPerWindow(): number {
    const s = this.state;
    return s[AT.rateWeight]! > 0 ? s[AT.rateSum]! / s[AT.rateWeight]! : 0;
  }

  /** Expected requests or answers per window, whichever is more: how much evidence a window holds. */
  eventsPerWindow(): number {
    const s = this.state;
    return s[AT.rateWeight]! > 0 ? Math.max(s[AT.rateSum]!, s[AT.answerSum]!) / s[AT.rateWeight]! : 0;
  }

  learn(window: WindowAccumulator): void {
    const { alpha, rateAlpha, state: s } = this;
    s[AT.rateSum] = rateAlpha * s[AT.rateSum]! + window.requests;
    s[AT.answerSum] = rateAlpha * s[AT.answerSum]! + window.answers;
    s[AT.rateWeight] = rateAlpha * s[AT.rateWeight]! + 1;
    this.samplesAt(AT.latency).learn(window.latency, alpha);
    this.samplesAt(AT.requestPayload).learn(window.requestPayload, alpha);
    this.samplesAt(AT.resultPayload).learn(window.resultPayload, alpha);
    this.shareAt(AT.retries).learn(window.retried, window.requests, alpha);
    this.shareAt(AT.timeouts).learn(window.timeouts, Math.max(window.requests, window.timeouts), alpha);
    this.shareAt(AT.failures).learn(window.failures, window.answers, alpha);
    this.learned += 1;
  }

  /**
   * Evidence of `pool` (the merge of the last `windows` windows, each `windowMs` long) against this
   * profile, in FEATURES order; `minEffects` overrides each feature's minimum effect.
   */
  evidence(
    pool: WindowAccumulator,
    windows: number,
    windowMs: number,
    minEffects: ArrayLike<number>,
    directions: ArrayLike<number>,
  ): Evidence {
    const z = new Float64Array(FEATURE_COUNT).fill(Number.NaN);
    const worse = new Uint8Array(FEATURE_COUNT);
    const value = new Float64Array(FEATURE_COUNT).fill(Number.NaN);
    const expected = new Float64Array(FEATURE_COUNT).fill(Number.NaN);
    const seconds = (windows * windowMs) / 1000;

    // Relative change of a level (rate, latency, size): worse when beyond ±minEffect in the worse direction.
    const level = (i: number, zi: number, ratio: number, shown: number, baseline: number) => {
      z[i] = zi;
      value[i] = shown;
      expected[i] = baseline;
      worse[i] = isWorse(directions[i]!, zi, ratio - 1, minEffects[i]!) ? 1 : 0;
    };
    // A count of hits among trials against a baseline share: worse when the share rose by at least
    // minEffect and at least doubled.
    const share = (i: number, hits: number, trials: number, p0: number, shown: number, baseline: number) => {
      if (trials === 0) return;
      const zi = binomialZ(hits, trials, p0);
      const observed = hits / trials;
      z[i] = zi;
      value[i] = shown;
      expected[i] = baseline;
      // A rise must also at least double the share: +5 points on a 40 % baseline is noise, on 1 % it is news.
      const doubled = directions[i] !== UP || observed >= 2 * p0;
      worse[i] = doubled && isWorse(directions[i]!, zi, observed - p0, minEffects[i]!) ? 1 : 0;
    };

    const mu = this.requestsPerWindow() * windows;
    level(
      0,
      poissonZ(pool.requests, mu),
      mu > 0 ? pool.requests / mu : Number.POSITIVE_INFINITY,
      pool.requests / seconds,
      mu / seconds,
    );

    this.samples(1, 2, pool.latency, this.samplesAt(AT.latency), level, share);
    // Retries beyond those the window's own failures and timeouts explain (above their usual share):
    // an error burst is a failure_rate incident whose retries follow; a retry storm is retrying without cause.
    const explained =
      pool.requests > 0
        ? Math.max(
            0,
            (pool.failures + pool.timeouts) / pool.requests -
              this.shareAt(AT.failures).share() -
              this.shareAt(AT.timeouts).share(),
          )
        : 0;
    const retryShare = Math.min(0.99, this.shareAt(AT.retries).share() + explained);
    share(
      3,
      pool.retried,
      pool.requests,
      retryShare,
      pool.requests > 0 ? pool.retried / pool.requests : Number.NaN,
      retryShare,
    );
    const timeoutTrials = Math.max(pool.requests, pool.timeouts);
    share(
      4,
      pool.timeouts,
      timeoutTrials,
      this.shareAt(AT.timeouts).share(),
      timeoutTrials > 0 ? pool.timeouts / timeoutTrials : Number.NaN,
      this.shareAt(AT.timeouts).share(),
    );
    share(
      5,
      pool.failures,
      pool.answers,
      this.shareAt(AT.failures).share(),
      pool.answers > 0 ? pool.failures / pool.answers : Number.NaN,
      this.shareAt(AT.failures).share(),
    );
    // Payloads of requests and of results each against their own baseline; the one further off the worse way speaks.
    this.samples(6, 7, pool.requestPayload, this.samplesAt(AT.requestPayload), level, share);
    const ofRequests = PAYLOAD_FEATURES.map((i) => ({
      z: z[i]!,
      worse: worse[i]!,
      value: value[i]!,
      expected: expected[i]!,
    }));
    for (const i of PAYLOAD_FEATURES) {
      z[i] = Number.NaN;
      worse[i] = 0;
    }
    this.samples(6, 7, pool.resultPayload, this.samplesAt(AT.resultPayload), level, share);
    PAYLOAD_FEATURES.forEach((i, k) => {
      const other = ofRequests[k]!;
      if (Number.isNaN(other.z)) return;
      const keepResults =
        !Number.isNaN(z[i]!) &&
        (worse[i]! > other.worse || (worse[i] === other.worse && Math.abs(z[i]!) >= Math.abs(other.z)));
      if (keepResults) return;
      z[i] = other.z;
      worse[i] = other.worse;
      value[i] = other.value;
      expected[i] = other.expected;
    });
    return { z, worse, value, expected };
  }

  /**
   * How far this profile's levels lie from `reference`'s, a profile of the same agent with a longer
   * memory (drift.ts): typical latency, typical payload size (requests and results, the one further
   * off speaks), and the retry, timeout and failure shares. In FEATURES order; the rate (which
   * follows load cycles) and the tails are not compared (NaN). A level's z counts each profile's
   * weighted samples once: z = (μ − μ_ref) / (σ_ref √(1/n + 1/n_ref)), and a share's the same with
   * the binomial σ. Worse: moved at least minEffect the worse way (a share must also double).
   */
  driftFrom(reference: AgentProfile, minEffects: ArrayLike<number>, directions: ArrayLike<number>): Evidence {
    const z = new Float64Array(FEATURE_COUNT).fill(Number.NaN);
    const worse = new Uint8Array(FEATURE_COUNT);
    const value = new Float64Array(FEATURE_COUNT).fill(Number.NaN);
    const expected = new Float64Array(FEATURE_COUNT).fill(Number.NaN);
    const level = (i: number, now: SampleBaseline, before: SampleBaseline) => {
      if (!now.known || !before.known) return;
      const zi = (now.mean() - before.mean()) / (before.sigma() * Math.sqrt(1 / now.samples + 1 / before.samples));
      const effect = Math.exp(now.mean() - before.mean()) - 1;
      const isWorseHere = isWorse(directions[i]!, zi, effect, minEffects[i]!) ? 1 : 0;
      // Of two payload levels, keep the one further off the worse way.
      if (
        !Number.isNaN(z[i]!) &&
        (worse[i]! > isWorseHere || (worse[i] === isWorseHere && Math.abs(z[i]!) >= Math.abs(zi)))
      )
        return;
      z[i] = zi;
      worse[i] = isWorseHere;
      value[i] = Math.expm1(now.mean());
      expected[i] = Math.expm1(before.mean());
    };
    const share = (i: number, now: ProportionBaseline, before: ProportionBaseline) => {
      if (now.weight === 0 || before.weight === 0) return;
      const p = now.share();
      const p0 = before.share();
      z[i] = (p - p0) / Math.sqrt(p0 * (1 - p0) * (1 / now.weight + 1 / before.weight));
      value[i] = p;
      expected[i] = p0;
      const doubled = directions[i] !== UP || p >= 2 * p0;
      worse[i] = doubled && isWorse(directions[i]!, z[i]!, p - p0, minEffects[i]!) ? 1 : 0;
    };
    level(1, this.samplesAt(AT.latency), reference.samplesAt(AT.latency));
    share(3, this.shareAt(AT.retries), reference.shareAt(AT.retries));
    share(4, this.shareAt(AT.timeouts), reference.shareAt(AT.timeouts));
    share(5, this.shareAt(AT.failures), reference.shareAt(AT.failures));
    level(6, this.samplesAt(AT.requestPayload), reference.samplesAt(AT.requestPayload));
    level(6, this.samplesAt(AT.resultPayload), reference.samplesAt(AT.resultPayload));
    return { z, worse, value, expected };
  }

  /**
   * ln L₀/L₁ of one window: how much better the baseline (H₀) explains it than an open incident's
   * level (H₁), summed over `features` (FEATURES indices; detector.ts accumulates it to decide that
   * the incident is over). The incident's level comes from its windows merged (`incident`, over
   * `incidentWindows` windows): its rate, its shares (retries, timeouts, failures, samples beyond the
   * baseline's tail limit) and its typical latency and payload size. Counts use their exact
   * likelihoods (Poisson, binomial), levels the normal one; a feature without data adds 0.
   */
  recoveryRatio(
    window: WindowAccumulator,
    incident: WindowAccumulator,
    incidentWindows: number,
    features: readonly number[],
  ): number {
    // The incident's shares, smoothed so that a share of 0 or 1 is not absolute.
    const smoothed = (hits: number, trials: number) => (hits + 0.5) / (trials + 1);
    const binomial = (k: number, n: number, p0: number, p1: number) =>
      n === 0 ? 0 : k * Math.log(p0 / p1) + (n - k) * Math.log((1 - p0) / (1 - p1));
    let ratio = 0;
    for (const f of features) {
      if (f === 0) {
        const mu0 = this.requestsPerWindow();
        const mu1 = Math.max(0.5, incident.requests) / Math.max(1, incidentWindows);
        if (mu0 > 0) ratio += window.requests * Math.log(mu0 / mu1) - (mu0 - mu1);
      } else if (f === 1 || f === 2) {
        ratio += this.samplesRatio(
          f === 1,
          window.latency,
          incident.latency,
          this.samplesAt(AT.latency),
          smoothed,
          binomial,
        );
      } else if (f === 3) {
        const explained =
          window.requests > 0
            ? Math.max(
                0,
                (window.failures + window.timeouts) / window.requests -
                  this.shareAt(AT.failures).share() -
                  this.shareAt(AT.timeouts).share(),
              )
            : 0;
        ratio += binomial(
          window.retried,
          window.requests,
          Math.min(0.99, this.shareAt(AT.retries).share() + explained),
          smoothed(incident.retried, incident.requests),
        );
      } else if (f === 4) {
        ratio += binomial(
          window.timeouts,
          Math.max(window.requests, window.timeouts),
          this.shareAt(AT.timeouts).share(),
          smoothed(incident.timeouts, Math.max(incident.requests, incident.timeouts)),
        );
      } else if (f === 5) {
        ratio += binomial(
          window.failures,
          window.answers,
          this.shareAt(AT.failures).share(),
          smoothed(incident.failures, incident.answers),
        );
      } else if (f === 6 || f === 7) {
        // The payload kind (requests or results) whose incident level is further from its baseline.
        const offBy = (samples: SampleStats, baseline: SampleBaseline) =>
          samples.count === 0 || !baseline.known
            ? -1
            : Math.abs(samples.meanLog() - baseline.mean()) / baseline.sigma();
        const results =
          offBy(incident.resultPayload, this.samplesAt(AT.resultPayload)) >=
          offBy(incident.requestPayload, this.samplesAt(AT.requestPayload));
        ratio += results
          ? this.samplesRatio(
              f === 6,
              window.resultPayload,
              incident.resultPayload,
              this.samplesAt(AT.resultPayload),
              smoothed,
              binomial,
            )
          : this.samplesRatio(
              f === 6,
              window.requestPayload,
              incident.requestPayload,
              this.samplesAt(AT.requestPayload),
              smoothed,
              binomial,
            );
      }
    }
    return ratio;
  }

  /** ln L₀/L₁ of a window's samples: their centre (normal, at the baseline's spread), or their share beyond the baseline's tail limit (binomial). */
  private samplesRatio(
    centre: boolean,
    samples: SampleStats,
    incident: SampleStats,
    baseline: SampleBaseline,
    smoothed: (hits: number, trials: number) => number,
    binomial: (k: number, n: number, p0: number, p1: number) => number,
  ): number {
    if (samples.count === 0 || incident.count === 0 || !baseline.known) return 0;
    if (!centre) {
      const limit = baseline.tailLimit();
      return binomial(
        samples.countAbove(limit),
        samples.count,
        baseline.tailShare(),
        smoothed(incident.countAbove(limit), incident.count),
      );
    }
    // The latency's centre is its median (as in the evidence), the payload's its mean of logs.
    const latency = baseline.at === AT.latency;
    const level = (s: SampleStats) => (latency ? Math.log1p(s.quantile(0.5)) : s.meanLog());
    const sigma = baseline.sigma() * (latency ? Math.sqrt(Math.PI / 2) : 1);
    const mu0 = baseline.mean();
    const mu1 = level(incident);
    // A window far beyond both levels (a few odd samples) is not stronger evidence than one at
    // OUTLIER_Z past the nearer of them: the normal likelihood ratio grows without bound there, and
    // real samples have heavier tails than the normal's.
    const spread = (OUTLIER_Z * sigma) / Math.sqrt(samples.count);
    const x = Math.min(Math.max(level(samples), Math.min(mu0, mu1) - spread), Math.max(mu0, mu1) + spread);
    const z0 = meanZ(x, samples.count, mu0, sigma);
    const z1 = meanZ(x, samples.count, mu1, sigma);
    return (z1 * z1 - z0 * z0) / 2;
  }

  /** The centre (geometric mean) and tail (share beyond the baseline's p99) of latency or payload size. */
  private samples(
    centre: number,
    tail: number,
    samples: SampleStats,
    baseline: SampleBaseline,
    level: (i: number, zi: number, ratio: number, shown: number, baseline: number) => void,
    share: (i: number, hits: number, trials: number, p0: number, shown: number, baseline: number) => void,
  ): void {
    if (samples.count === 0 || !baseline.known) return;
    const mu = baseline.mean();
    const sigma = baseline.sigma();
    if (centre === 1) {
      // Latency: the median, robust to a slow tail (that is latency_p95's news). The sample median of
      // n normal values has standard error σ·√(π / 2n).
      const medianLog = Math.log1p(samples.quantile(0.5));
      level(
        centre,
        meanZ(medianLog, samples.count, mu, sigma * Math.sqrt(Math.PI / 2)),
        Math.exp(medianLog - mu),
        Math.expm1(medianLog),
        Math.expm1(mu),
      );
    } else {
      const meanLog = samples.meanLog();
      level(
        centre,
        meanZ(meanLog, samples.count, mu, sigma),
        Math.exp(meanLog - mu),
        Math.expm1(meanLog),
        Math.expm1(mu),
      );
    }
    share(
      tail,
      samples.countAbove(baseline.tailLimit()),
      samples.count,
      baseline.tailShare(),
      samples.quantile(0.95),
      Math.expm1(mu + Z95 * sigma),
    );
  }
}

/** The change is at least the minimum effect the worse way, and the evidence points the same way. */
function isWorse(direction: number, z: number, effect: number, minEffect: number): boolean {
  return movedWorse(direction, effect, minEffect) && (direction === BOTH || Math.sign(z) === direction);
}
