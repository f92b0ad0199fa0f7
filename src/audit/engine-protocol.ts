// The messages between agentwatch and its embedded engine's process (engine-process.ts and
// engine-host.ts), sent over Node's IPC channel with the structured-clone ('advanced') serialization,
// so Buffers pass as bytes.

export type EngineOperation = 'query' | 'exec' | 'insert' | 'command';

export interface EngineRequest {
  id: number;
  op: EngineOperation;
  query: string;
  queryId: string;
  queryParams?: Record<string, unknown> | undefined;
  /** The body of an exec or insert, materialized (the engine reads an inline body as text anyway). */
  values?: Buffer | undefined;
}

export interface EngineResult {
  id: number;
  ok: true;
  body?: Buffer | Uint8Array;
  summary?: unknown;
}

export interface EngineFailure {
  id: number;
  ok: false;
  /** code and type: a ClickHouse error; name: an AbortError; closing: the engine is closing (retry on a new one). */
  error: { message: string; code?: string; type?: string; name?: string; closing?: boolean };
}

export type EngineAnswer =
  { type: 'ready'; pid: number } | { type: 'failed'; message: string } | EngineResult | EngineFailure;

export type EngineControl = { op: 'abort'; id: number } | { op: 'close' };

/** Whether chdb refused the data directory because another process holds its lock. */
export function isDirectoryLocked(message: string): boolean {
  return /Cannot lock file|already running/.test(message);
}
