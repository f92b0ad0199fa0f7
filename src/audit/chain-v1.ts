// Chain version 1, for verifying rows stored before version 2 (nothing writes it any more):
//   hash = SHA-256(prev_hash + "\n" + canonical(row))
// where canonical(row) is the JSON array of every stored field except hash and ingested_at, each as
// a string, headers as [name, value] pairs sorted by name. Version 1 also hashed the correlation
// outcomes (latency_ms, retries, timed_out, and attempt as correlated), which depend on read order;
// version 2 (audit-row.ts) hashes what the record alone says. This form must never change: stored
// version-1 chains verify against it.

import { hash as digest } from 'node:crypto';

/** A version-1 row as read back for verification. */
export interface RowV1 {
  topic: string;
  partition: number;
  offset: string;
  prev_offset: string;
  /** Record timestamp, ms since the epoch. */
  ts: number;
  key: string;
  headers: Record<string, string>;
  producer: string;
  capability: string;
  workflow_id: string;
  task_id: string;
  message_id: string;
  context_id: string;
  rpc_id: string;
  method: string;
  step: string;
  kind: string;
  state: string;
  error_type: string;
  attempt: number;
  payload_bytes: number;
  encoding: string;
  schema_id: number;
  parse_error: string;
  dlq_reason: string;
  latency_ms: number;
  retries: number;
  timed_out: number;
  payload: string;
  payload_encoding: string;
}

/** The fields version 1 hashes, in order. */
export const HASHED_FIELDS_V1 = [
  'topic',
  'partition',
  'offset',
  'prev_offset',
  'ts',
  'key',
  'headers',
  'producer',
  'capability',
  'workflow_id',
  'task_id',
  'message_id',
  'context_id',
  'rpc_id',
  'method',
  'step',
  'kind',
  'state',
  'error_type',
  'attempt',
  'payload_bytes',
  'encoding',
  'schema_id',
  'parse_error',
  'dlq_reason',
  'latency_ms',
  'retries',
  'timed_out',
  'payload',
  'payload_encoding',
] as const satisfies ReadonlyArray<keyof RowV1>;

export function canonicalV1(row: RowV1): string {
  return JSON.stringify(
    HASHED_FIELDS_V1.map((field) =>
      field === 'headers'
        ? Object.keys(row.headers)
            .sort()
            .map((name) => [name, row.headers[name]])
        : String(row[field]),
    ),
  );
}

export function chainHashV1(prevHash: string, row: RowV1): string {
  return digest('sha256', `${prevHash}\n${canonicalV1(row)}`, 'hex');
}
