// The embedded ClickHouse engine's own process (started by engine-process.ts, never by hand): it opens
// the data directory with chdb and runs the requests its parent sends over the IPC channel, one
// answer per request. The engine's memory (parts, merges, query buffers) lives here, not in the
// service's heap. Its lifetime is its parent's: it ends on the parent's `close`, or when the channel
// closes (the parent exited or was killed), after the requests in progress have finished; it ignores
// SIGINT and SIGTERM (a Ctrl-C or a service manager signals the whole process group, and the parent
// still needs the engine for its last flush).
//   node engine-host.js <data dir> <database> <open wait ms>

import { Readable } from 'node:stream';
import { drainPending } from 'chdb';
import { createChdbConnection } from 'chdb/connection';
import { messageOf } from '../errors.js';
import { isDirectoryLocked, type EngineAnswer, type EngineControl, type EngineRequest } from './engine-protocol.js';

type ChdbConnection = ReturnType<typeof createChdbConnection>;

const [dataDir, database, openWaitArg] = process.argv.slice(2);
if (dataDir === undefined || database === undefined || process.send === undefined) {
  process.stderr.write('engine-host: started without its parent (run by agentwatch only)\n');
  process.exit(2);
}
const openWaitMs = Number(openWaitArg ?? 30_000);

const inProgress = new Map<number, AbortController>();
/** Answers handed to the channel and not yet written. */
const unsent = new Set<Promise<void>>();
let closing = false;

process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

function answer(message: EngineAnswer): void {
  if (!process.connected) return;
  const sent = new Promise<void>((resolve) => process.send!(message, undefined, {}, () => resolve()));
  unsent.add(sent);
  void sent.then(() => unsent.delete(sent));
}

/**
 * chdb locks the data directory (its `status` file) for as long as a process has it open. A host
 * whose parent was just killed may still be finishing a request; the next one waits for it.
 */
async function open(): Promise<ChdbConnection> {
  const until = Date.now() + openWaitMs;
  for (;;) {
    if (closing) throw new Error('closed before the data directory was opened');
    try {
      return createChdbConnection({ path: dataDir! });
    } catch (err) {
      const locked = isDirectoryLocked(describe(err));
      if (!locked || Date.now() >= until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** The whole message of an error and its causes (chdb wraps the engine's message in a cause). */
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    parts.push(messageOf(e));
  }
  return parts.join(': ');
}

async function run(connection: ChdbConnection, request: EngineRequest): Promise<EngineAnswer> {
  const controller = new AbortController();
  inProgress.set(request.id, controller);
  try {
    const params = {
      query: request.query,
      query_id: request.queryId,
      query_params: request.queryParams,
      abort_signal: controller.signal,
    };
    switch (request.op) {
      case 'query': {
        const result = await connection.query(params);
        return { id: request.id, ok: true, body: await collect(result.stream) };
      }
      case 'exec': {
        const values = request.values === undefined ? undefined : Readable.from([request.values]);
        const result = await connection.exec({ ...params, values });
        return { id: request.id, ok: true, body: await collect(result.stream), summary: result.summary };
      }
      case 'insert': {
        const result = await connection.insert({ ...params, values: Readable.from([request.values ?? '']) });
        return { id: request.id, ok: true, summary: result.summary };
      }
      case 'command': {
        const result = await connection.command(params);
        return { id: request.id, ok: true, summary: result.summary };
      }
    }
  } catch (err) {
    const { code, type, name } = err as { code?: unknown; type?: unknown; name?: unknown };
    // A ClickHouse error's own message is what a server would send; other errors keep their causes.
    const clickhouse = typeof code === 'string' && typeof type === 'string';
    return {
      id: request.id,
      ok: false,
      error: {
        message: clickhouse ? messageOf(err) : describe(err),
        ...(clickhouse ? { code, type } : {}),
        ...(name === 'AbortError' ? { name } : {}),
      },
    };
  } finally {
    inProgress.delete(request.id);
  }
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** Lets the requests in progress (and what the engine still computes for aborted ones) finish, closes the engine, exits. */
let shuttingDown = false;
async function shutDown(connection: ChdbConnection | undefined): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  while (inProgress.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  await drainPending();
  await connection?.close();
  await Promise.all(unsent);
  process.exit(0);
}

const opened = (async () => {
  const connection = await open();
  await connection.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  // chdb runs every query of a connection in one session, in which USE sticks.
  await connection.command({ query: `USE ${database}` });
  return connection;
})();

/** Takes no more requests and shuts down once the directory is open (or failed to open). */
function closeWhenOpened(): void {
  closing = true;
  void opened.then(shutDown, () => shutDown(undefined));
}

// Listening from the start: a `close`, or the parent's end, may come while the directory is opening.
process.on('message', (message: EngineRequest | EngineControl) => {
  if (message.op === 'abort') inProgress.get(message.id)?.abort();
  else if (message.op === 'close') closeWhenOpened();
  else if (closing)
    answer({ id: message.id, ok: false, error: { message: 'the engine process is closing', closing: true } });
  else void opened.then((connection) => run(connection, message)).then(answer);
});
process.on('disconnect', closeWhenOpened);

try {
  await opened;
  answer({ type: 'ready', pid: process.pid });
} catch (err) {
  answer({ type: 'failed', message: describe(err) });
  await Promise.all(unsent);
  process.exit(1);
}
