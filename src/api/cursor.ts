// Keyset cursors: the position after a page's last row, as opaque base64url text.

import type { AuditCursor } from '../audit/index.js';

/** Kafka offsets are signed 64-bit. */
const MAX_OFFSET = 9_223_372_036_854_775_807n;

export function encodeCursor(cursor: AuditCursor): string {
  return Buffer.from(JSON.stringify([cursor.ts, cursor.topic, cursor.partition, cursor.offset])).toString('base64url');
}

/** The cursor, or undefined when the text is not one of ours. */
export function decodeCursor(text: string): AuditCursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 4) return undefined;
    const [ts, topic, partition, offset] = value as unknown[];
    // Only positions a row can have: a crafted cursor ([-1, "t", -1, "1"]) is a 400, never a query the store refuses.
    if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) return undefined;
    if (typeof topic !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(topic)) return undefined;
    if (typeof partition !== 'number' || !Number.isSafeInteger(partition) || partition < 0 || partition > 2_147_483_647)
      return undefined;
    if (typeof offset !== 'string' || !/^\d{1,19}$/.test(offset) || BigInt(offset) > MAX_OFFSET) return undefined;
    return { ts, topic, partition, offset };
  } catch {
    return undefined;
  }
}
