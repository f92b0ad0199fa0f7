// Masks configured JSON paths in a payload before it is stored and hashed, so the hash chain covers
// exactly what is stored. A path is dot-separated; `*` matches every key of an object or every item
// of an array: "params.message.parts.*.text", "payload.customer.email", "*.password".

import type { UnparsedPayloadPolicy } from '../config/index.js';

export const REDACTED = '[REDACTED]';

/**
 * Masks the configured paths of a parsed payload. `unparsed` says what is kept of a value that could
 * not be parsed, where no path can apply (AUDIT_UNPARSED_PAYLOAD).
 */
export interface Redactor {
  (body: unknown): { value: unknown; changed: boolean };
  readonly unparsed: UnparsedPayloadPolicy;
}

export function createRedactor(paths: readonly string[], unparsed: UnparsedPayloadPolicy = 'store'): Redactor {
  const compiled = paths.map((path) => path.split('.').filter((part) => part !== ''));
  if (compiled.length === 0) return Object.assign((body: unknown) => ({ value: body, changed: false }), { unparsed });
  return Object.assign(
    (body: unknown) => {
      let changed = false;
      let value = body;
      for (const parts of compiled) {
        const result = mask(value, parts, 0);
        value = result.value;
        changed ||= result.changed;
      }
      return { value, changed };
    },
    { unparsed },
  );
}

/** Returns a copy with the path masked (the input is never modified). */
function mask(node: unknown, parts: readonly string[], depth: number): { value: unknown; changed: boolean } {
  if (depth === parts.length) return { value: REDACTED, changed: node !== REDACTED };
  if (typeof node !== 'object' || node === null) return { value: node, changed: false };
  const part = parts[depth]!;
  const keys = part === '*' ? Object.keys(node) : Object.prototype.hasOwnProperty.call(node, part) ? [part] : [];
  if (keys.length === 0) return { value: node, changed: false };
  const copy: Record<string, unknown> | unknown[] = Array.isArray(node)
    ? [...node]
    : { ...(node as Record<string, unknown>) };
  let changed = false;
  for (const key of keys) {
    const result = mask((node as Record<string, unknown>)[key], parts, depth + 1);
    if (result.changed) {
      (copy as Record<string, unknown>)[key] = result.value;
      changed = true;
    }
  }
  return changed ? { value: copy, changed } : { value: node, changed: false };
}
