// Reads typed options from a flat name→string source, records a doc entry per option (for --help
// and docs/configuration.md) and collects every problem instead of stopping at the first.

export interface OptionDoc {
  name: string;
  type: string;
  default: string;
  description: string;
}

export type OptionSource = Readonly<Record<string, string | undefined>>;

export class OptionReader {
  readonly docs: OptionDoc[] = [];
  readonly problems: string[] = [];

  constructor(private readonly source: OptionSource) {}

  /** The raw value, or undefined when unset or blank. */
  private raw(name: string): string | undefined {
    const value = this.source[name];
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }

  private doc(name: string, type: string, def: string, description: string): void {
    this.docs.push({ name, type, default: def, description });
  }

  string(name: string, def: string, description: string): string {
    this.doc(name, 'string', def, description);
    return this.raw(name) ?? def;
  }

  optionalString(name: string, description: string): string | undefined {
    this.doc(name, 'string', '(unset)', description);
    return this.raw(name);
  }

  /** Like optionalString, but documented as a secret: callers never log the value. */
  secret(name: string, description: string): string | undefined {
    this.doc(name, 'secret', '(unset)', description);
    return this.raw(name);
  }

  int(name: string, def: number, bounds: { min: number; max: number }, description: string): number {
    this.doc(name, `integer ${bounds.min}..${bounds.max}`, String(def), description);
    const value = this.raw(name);
    if (value === undefined) return def;
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(parsed)) {
      this.problems.push(
        `${name}=${JSON.stringify(value)} is not a whole number; set it to an integer from ${bounds.min} to ${bounds.max}.`,
      );
      return def;
    }
    if (parsed < bounds.min || parsed > bounds.max) {
      this.problems.push(
        `${name}=${parsed} is out of range; set it to an integer from ${bounds.min} to ${bounds.max}.`,
      );
      return def;
    }
    return parsed;
  }

  float(
    name: string,
    def: number,
    bounds: { min: number; max: number; exclusive?: boolean },
    description: string,
  ): number {
    const range = bounds.exclusive
      ? `between ${bounds.min} and ${bounds.max} (exclusive)`
      : `from ${bounds.min} to ${bounds.max}`;
    this.doc(
      name,
      `number ${bounds.exclusive ? '(' : '['}${bounds.min}, ${bounds.max}${bounds.exclusive ? ')' : ']'}`,
      String(def),
      description,
    );
    const value = this.raw(name);
    if (value === undefined) return def;
    const parsed = Number(value);
    const inside = bounds.exclusive
      ? parsed > bounds.min && parsed < bounds.max
      : parsed >= bounds.min && parsed <= bounds.max;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value) || !Number.isFinite(parsed) || !inside) {
      this.problems.push(`${name}=${JSON.stringify(value)} is not a number ${range}.`);
      return def;
    }
    return parsed;
  }

  bool(name: string, def: boolean, description: string): boolean {
    this.doc(name, 'boolean', String(def), description);
    const value = this.raw(name);
    if (value === undefined) return def;
    const lower = value.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(lower)) return true;
    if (['false', '0', 'no', 'off'].includes(lower)) return false;
    this.problems.push(`${name}=${JSON.stringify(value)} is not a boolean; set it to true or false.`);
    return def;
  }

  /** A comma-separated list; empty items are ignored. */
  list(name: string, def: readonly string[], description: string): string[] {
    this.doc(name, 'comma-separated list', def.join(','), description);
    const value = this.raw(name);
    if (value === undefined) return [...def];
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], def: T, description: string): T {
    this.doc(name, allowed.join(' | '), def, description);
    const value = this.raw(name);
    if (value === undefined) return def;
    const match = allowed.find((candidate) => candidate === value.toLowerCase());
    if (match === undefined) {
      this.problems.push(`${name}=${JSON.stringify(value)} is not one of ${allowed.join(', ')}.`);
      return def;
    }
    return match;
  }

  /** An http(s) URL, without a trailing slash. */
  url(name: string, def: string | undefined, description: string): string | undefined {
    this.doc(name, 'http(s) URL', def ?? '(unset)', description);
    const value = this.raw(name) ?? def;
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      this.problems.push(`${name}=${JSON.stringify(value)} is not a URL; write it like http://host:port.`);
      return def;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      this.problems.push(`${name}=${JSON.stringify(value)} must start with http:// or https://.`);
      return def;
    }
    return value.replace(/\/+$/, '');
  }

  problem(message: string): void {
    this.problems.push(message);
  }
}
