// The fleet model's random sources: seeded, so that a run is the same on every machine (mulberry32),
// and split into independent streams derived from the run's seed, so that adding draws to one
// stream never shifts another.

export interface Random {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return fromUniform(() => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  });
}

/** An unseeded source (Math.random), for a live simulation that should differ from run to run. */
export function unseededRandom(): Random {
  return fromUniform(Math.random);
}

/** A source from its uniform draws; normal() takes two of them (Box-Muller). */
function fromUniform(uniform: () => number): Random {
  const normal = (): number => {
    const u = Math.max(uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
  return { uniform, normal };
}

/** A 32-bit seed for one stream, from the run's seed and the stream's coordinates (murmur3 finaliser). */
export function streamSeed(seed: number, ...parts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A lognormal draw with this median and log-sigma. */
export function lognormal(random: Random, median: number, sigma: number): number {
  return median * Math.exp(sigma * random.normal());
}
