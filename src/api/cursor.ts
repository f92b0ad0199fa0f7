// Keyset cursors: the position after a page's last row, as opaque base64url text.

import type { AuditCursor } from '../audit/index.js';

export function encodeCursor(cursor: AuditCursor): string {
  return Buffer.from(JSON.stringify([cursor.ts, cursor.topic, cursor.partition, cursor.offset])).toString('base64url');
}

/** The cursor, or undefined when the text is not one of ours. */
export function decodeCursor(text: string): AuditCursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 4) return undefined;
    const [ts, topic, partition, offset] = value as unknown[];
    if (typeof ts !== 'number' || typeof topic !== 'string' || typeof partition !== 'number' || typeof offset !== 'string' || !/^\d+$/.test(offset)) return undefined;
    return { ts, topic, partition, offset };
  } catch {
    return undefined;
  }
}
