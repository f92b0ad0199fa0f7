// API keys and roles. A key is checked against every configured key in constant time (SHA-256
// digests compared with timingSafeEqual); keys are never logged. Roles: auditor (audit read,
// export, verify), sre (anomalies, agents), admin (everything).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig, ApiRole } from '../config/index.js';

export interface Principal {
  name: string;
  roles: readonly ApiRole[];
}

interface StoredKey extends Principal {
  digest: Buffer;
}

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

export class ApiKeys {
  private readonly keys: StoredKey[];

  constructor(keys: readonly ApiKeyConfig[]) {
    this.keys = keys.map((k) => ({ name: k.name, roles: k.roles, digest: digest(k.key) }));
  }

  get size(): number {
    return this.keys.length;
  }

  /** The principal of a presented key, or undefined. Every stored key is compared, match or not. */
  authenticate(presented: string | undefined): Principal | undefined {
    if (presented === undefined || presented === '') return undefined;
    const candidate = digest(presented);
    let found: StoredKey | undefined;
    for (const key of this.keys) if (timingSafeEqual(key.digest, candidate)) found = key;
    return found === undefined ? undefined : { name: found.name, roles: found.roles };
  }
}

export function mayAccess(principal: Principal, required: readonly ApiRole[]): boolean {
  return principal.roles.includes('admin') || required.some((role) => principal.roles.includes(role));
}

/** The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  const header = headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}
