// Silences: label matchers with a time range, as in Alertmanager. A silenced alert is still detected,
// stored and published (marked with the silence's id), but not sent to webhooks or Alertmanager.
// The book holds the silences of the audit store (where each is kept with who created it and when).

import type { AlertLabels } from './alert-labels.js';

export interface SilenceMatcher {
  /** A label: alertname, agent, capability, severity, kind, scope or service. */
  name: string;
  value: string;
  /** value is a regular expression matching the whole label value. */
  isRegex: boolean;
  /** false: the matcher holds when the label does NOT match. */
  isEqual: boolean;
}

export interface Silence {
  id: string;
  matchers: SilenceMatcher[];
  startsAt: number;
  endsAt: number;
  comment: string;
  /** The API key's name. */
  createdBy: string;
  createdAt: number;
}

/** Longest regular expression of a matcher, in characters. */
export const MAX_MATCHER_PATTERN = 512;

/**
 * A quantified group holding a quantifier, such as (a+)+ or (a|b*)*: the shape of patterns whose
 * matching can take exponential time (JavaScript has no linear-time engine). Refused; simple
 * alternations and single quantifiers cover label matching.
 */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[*+}]|\?\))(?:[^()\\]|\\.)*\)\s*(?:[*+]|\{\d)/;

/** A quantifier right before group closes that are quantified again, as in ((a)+)+. */
const QUANTIFIED_CLOSE = /[*+}]\)+\s*(?:[*+]|\{\d)/;

/** A repeated group of alternatives, as in (a|aa)*: overlapping alternatives backtrack exponentially. */
const QUANTIFIED_ALTERNATION = /\((?:[^()\\]|\\.)*\|(?:[^()\\]|\\.)*\)\s*(?:[*+]|\{\d)/;

/** A compiled matcher's test of one label value. */
type ValueTest = (value: string) => boolean;

/** Compiles a matcher; a bad pattern is a message saying what is wrong (for the API's 400). */
export function compileMatcher(matcher: SilenceMatcher): ValueTest | string {
  let test: ValueTest;
  if (matcher.isRegex) {
    if (matcher.value.length > MAX_MATCHER_PATTERN)
      return `the pattern of matcher ${matcher.name} is longer than ${MAX_MATCHER_PATTERN} characters`;
    if (NESTED_QUANTIFIER.test(matcher.value) || QUANTIFIED_CLOSE.test(matcher.value))
      return `the pattern of matcher ${matcher.name} repeats a group that itself repeats (like (a+)+), which can take exponential time; write it without the nesting`;
    if (QUANTIFIED_ALTERNATION.test(matcher.value))
      return `the pattern of matcher ${matcher.name} repeats a group of alternatives (like (a|aa)*), which can take exponential time; list the values instead, as a|b|c`;
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${matcher.value})$`, 'u');
    } catch (err) {
      return `the pattern of matcher ${matcher.name} is not a regular expression: ${(err as Error).message}`;
    }
    test = (value) => pattern.test(value);
  } else {
    test = (value) => value === matcher.value;
  }
  return matcher.isEqual ? test : (value) => !test(value);
}

interface CompiledSilence {
  silence: Silence;
  tests: Array<{ name: string; test: ValueTest }>;
}

export class SilenceBook {
  private silences = new Map<string, CompiledSilence>();

  /** Adds or replaces silences (matchers that do not compile are skipped: the API validated them). */
  add(...silences: readonly Silence[]): void {
    for (const silence of silences) {
      const tests: CompiledSilence['tests'] = [];
      for (const matcher of silence.matchers) {
        const test = compileMatcher(matcher);
        if (typeof test === 'string') break;
        tests.push({ name: matcher.name, test });
      }
      if (tests.length === silence.matchers.length && tests.length > 0)
        this.silences.set(silence.id, { silence, tests });
    }
  }

  /**
   * Takes the store's current silences (`now`: when they were read). A silence added here in the last
   * minute that the read missed (it raced the read) is kept until the next one.
   */
  replaceAll(silences: readonly Silence[], now: number): void {
    const recent = [...this.silences.values()].filter((c) => now - c.silence.createdAt < 60_000);
    this.silences = new Map();
    this.add(...silences);
    for (const c of recent) if (!this.silences.has(c.silence.id)) this.silences.set(c.silence.id, c);
  }

  remove(id: string): void {
    this.silences.delete(id);
  }

  /** Drops silences that ended before `now`. */
  prune(now: number): void {
    for (const [id, { silence }] of this.silences) if (silence.endsAt <= now) this.silences.delete(id);
  }

  /** The first silence active at `at` whose matchers all hold for `labels` (a missing label is ""). */
  match(labels: AlertLabels, at: number): Silence | undefined {
    for (const { silence, tests } of this.silences.values()) {
      if (at < silence.startsAt || at >= silence.endsAt) continue;
      if (tests.every(({ name, test }) => test(labels[name] ?? ''))) return silence;
    }
    return undefined;
  }

  /** Silences not yet ended at `now`, earliest end first. */
  active(now: number): Silence[] {
    return [...this.silences.values()]
      .map((c) => c.silence)
      .filter((s) => s.endsAt > now)
      .sort((a, b) => a.endsAt - b.endsAt);
  }
}
