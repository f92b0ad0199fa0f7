// The embedded ClickHouse engine (chdb) in a child process that owns the data directory
// (engine-host.ts), seen from agentwatch as an @clickhouse/client connection, so every query takes
// the same path as to a server. Why a process of its own: the engine's memory (parts, merges, insert
// and query buffers: 150–800 MB under load) stays out of the service's heap and RSS, and a crash
// of the engine is a lost connection, not a lost service.
//
// A crash of either side loses nothing:
// - The engine's process dies: every request in progress fails as a dropped connection does
//   (retryable; an audit insert is retried, and one that landed is dropped by the table's insert
//   de-duplication), and the next request starts a new one.
// - agentwatch dies: the host sees its IPC channel close, finishes the requests in progress, closes
//   the engine and exits; nothing was committed to Kafka for rows it had not confirmed, so they are
//   read again by the next start, which waits for the directory's lock.

import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ClickHouseError, type ClickHouseSettings } from '@clickhouse/client';
import { AgentwatchError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  isDirectoryLocked,
  type EngineAnswer,
  type EngineControl,
  type EngineFailure,
  type EngineOperation,
  type EngineRequest,
  type EngineResult,
} from './engine-protocol.js';

const HOST_SCRIPT = fileURLToPath(new URL('./engine-host.js', import.meta.url));

/** How long a new engine process waits for the data directory's lock (a previous host finishing). */
const OPEN_WAIT_MS = 30_000;

/** A crashing engine is started again at most once a second. */
const RESTART_DELAY_MS = 1_000;

interface Pending {
  resolve: (answer: EngineAnswer) => void;
  reject: (err: Error) => void;
}

interface EngineHost {
  child: ChildProcess;
  ready: Promise<void>;
}

/** What a connection's request carries that the engine uses; the rest (auth, role, headers) is for servers. */
interface RequestParams {
  query: string;
  query_id?: string | undefined;
  query_params?: Record<string, unknown> | undefined;
  clickhouse_settings?: ClickHouseSettings | undefined;
  abort_signal?: AbortSignal | undefined;
  values?: unknown;
}

export interface EngineProcessOptions {
  dataDir: string;
  database: string;
  logger?: Logger | undefined;
}

/** One engine process per data directory and agentwatch process; clients on the same directory share it. */
const shared = new Map<string, { engine: EngineProcess; clients: number }>();

/** Starts (or joins) the engine process of `dataDir`; resolves once it has the directory open. */
export async function openEngineProcess(
  options: EngineProcessOptions & {
    /** How long a request of this connection may take (CLICKHOUSE_REQUEST_TIMEOUT_MS). */
    requestTimeoutMs: number;
  },
): Promise<EngineProcessConnection> {
  const dataDir = resolve(options.dataDir);
  let entry = shared.get(dataDir);
  if (entry === undefined) {
    entry = { engine: new EngineProcess({ ...options, dataDir }), clients: 0 };
    shared.set(dataDir, entry);
  }
  entry.clients += 1;
  try {
    await entry.engine.started();
  } catch (err) {
    await releaseEngine(dataDir);
    throw err;
  }
  return new EngineProcessConnection(entry.engine, options.requestTimeoutMs, () => releaseEngine(dataDir));
}

async function releaseEngine(dataDir: string): Promise<void> {
  const entry = shared.get(dataDir);
  if (entry === undefined) return;
  entry.clients -= 1;
  if (entry.clients > 0) return;
  shared.delete(dataDir);
  await entry.engine.close();
}

export class EngineProcess {
  private host: EngineHost | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private lastStartAt = 0;

  constructor(private readonly options: EngineProcessOptions) {}

  /** The engine process's id (for operators and the crash drill), once it runs. */
  get pid(): number | undefined {
    return this.host?.child.pid;
  }

  async started(): Promise<void> {
    await this.startedHost();
  }

  async request(
    op: EngineOperation,
    params: RequestParams,
    timeoutMs: number,
  ): Promise<EngineResult & { queryId: string }> {
    if (Object.keys(params.clickhouse_settings ?? {}).length > 0) {
      // chdb would SET them on its one session, where they would stick for every later query.
      throw new Error('clickhouse_settings are not sent to the embedded engine; put them in the query (SETTINGS …)');
    }
    if (this.closed) throw dropped('the embedded ClickHouse engine was closed');
    const host = await this.startedHost();
    const values = params.values === undefined ? undefined : await materialize(params.values);
    if (this.closed) throw dropped('the embedded ClickHouse engine was closed');
    const request: EngineRequest = {
      id: this.nextId++,
      op,
      query: params.query,
      queryId: params.query_id ?? randomUUID(),
      queryParams: params.query_params,
      values,
    };
    const signal = params.abort_signal;
    signal?.throwIfAborted();
    const onAbort = (): void => this.control(host, { op: 'abort', id: request.id });
    signal?.addEventListener('abort', onAbort, { once: true });
    // chdb has no time limit of its own: a request the engine does not answer in time is abandoned
    // (and aborted there) as a server request would be, so a wedged engine cannot stall a caller.
    const timer = setTimeout(() => {
      this.control(host, { op: 'abort', id: request.id });
      this.settle(
        request.id,
        undefined,
        Object.assign(new Error(`the embedded ClickHouse engine did not answer within ${timeoutMs} ms`), {
          code: 'ETIMEDOUT',
        }),
      );
    }, timeoutMs);
    try {
      const answer = await new Promise<EngineAnswer>((resolve, reject) => {
        this.pending.set(request.id, { resolve, reject });
        host.child.channel?.ref();
        try {
          host.child.send(request, (err) => {
            if (err !== null)
              this.settle(
                request.id,
                undefined,
                dropped(`the engine process did not take the request: ${err.message}`),
              );
          });
        } catch (err) {
          // A value structured clone cannot copy (a function in query_params, say).
          this.settle(request.id, undefined, err as Error);
        }
      });
      if (!('ok' in answer)) throw dropped('the engine process sent an answer of the wrong kind');
      if (!answer.ok) throw engineError(answer.error);
      return { ...answer, queryId: request.queryId };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Lets the engine finish what it runs, closes it, and waits for its process to exit. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const host = this.host;
    if (host === undefined) return;
    const ended = new Promise<void>((resolve) => {
      if (host.child.exitCode !== null || host.child.signalCode !== null) resolve();
      else host.child.once('close', () => resolve());
    });
    this.control(host, { op: 'close' });
    const killTimer = setTimeout(() => host.child.kill('SIGKILL'), 60_000);
    await ended;
    clearTimeout(killTimer);
  }

  /** The running engine process, started (again) if needed; a restart right after a start waits a second. */
  private async startedHost(): Promise<EngineHost> {
    if (this.host === undefined) {
      const sinceLastStart = Date.now() - this.lastStartAt;
      if (sinceLastStart < RESTART_DELAY_MS)
        await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS - sinceLastStart));
    }
    const host = this.ensureHost();
    await host.ready;
    return host;
  }

  private ensureHost(): EngineHost {
    if (this.host !== undefined) return this.host;
    this.lastStartAt = Date.now();
    const child = fork(HOST_SCRIPT, [this.options.dataDir, this.options.database, String(OPEN_WAIT_MS)], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: [],
    });
    // The channel keeps agentwatch's event loop alive only while the engine starts or answers.
    child.unref();
    const forget = (): void => {
      if (this.host?.child === child) this.host = undefined;
    };
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (answer: EngineAnswer) => {
        if ('type' in answer) {
          if (answer.type === 'ready') {
            this.options.logger?.info(
              { enginePid: answer.pid, dataDir: this.options.dataDir },
              'embedded ClickHouse engine process started',
            );
            if (this.pending.size === 0) child.channel?.unref();
            resolve();
          } else reject(openFailed(this.options.dataDir, answer.message));
          return;
        }
        this.settle(answer.id, answer);
      });
      child.on('error', (err) => {
        forget();
        reject(openFailed(this.options.dataDir, err.message));
      });
      // 'close' comes after the channel was read to its end, so no answer sent before the end is lost.
      child.on('close', (code, signal) => {
        const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
        reject(openFailed(this.options.dataDir, `its process ended (${how}) before it opened the directory`));
        forget();
        if (!this.closed) {
          this.options.logger?.warn(
            { enginePid: child.pid, how },
            'embedded ClickHouse engine process ended; the next request starts a new one',
          );
        }
        for (const id of [...this.pending.keys()]) {
          this.settle(id, undefined, dropped(`the embedded ClickHouse engine's process ended (${how})`));
        }
      });
    });
    ready.catch(() => undefined); // observed by started() and request()
    this.host = { child, ready };
    return this.host;
  }

  private settle(id: number, answer: EngineAnswer | undefined, err?: Error): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.host?.child.channel?.unref();
    if (err !== undefined || answer === undefined) pending.reject(err ?? dropped('no answer'));
    else pending.resolve(answer);
  }

  private control(host: EngineHost, message: EngineControl): void {
    if (host.child.connected) host.child.send(message);
  }
}

/** The @clickhouse/client connection contract over an engine process. */
export class EngineProcessConnection {
  private released = false;

  constructor(
    readonly engine: EngineProcess,
    private readonly timeoutMs: number,
    private readonly release: () => Promise<void>,
  ) {}

  async query(params: RequestParams) {
    const answer = await this.engine.request('query', params, this.timeoutMs);
    return { stream: bodyStream(answer.body), ...base(answer) };
  }

  async exec(params: RequestParams) {
    const answer = await this.engine.request('exec', params, this.timeoutMs);
    return { stream: bodyStream(answer.body), ...base(answer), summary: answer.summary };
  }

  async insert(params: RequestParams) {
    const answer = await this.engine.request('insert', params, this.timeoutMs);
    return { ...base(answer), summary: answer.summary };
  }

  async command(params: RequestParams) {
    const answer = await this.engine.request('command', params, this.timeoutMs);
    return { ...base(answer), summary: answer.summary };
  }

  async ping(): Promise<{ success: true } | { success: false; error: Error }> {
    try {
      await this.engine.request('query', { query: 'SELECT 1 FORMAT CSV' }, this.timeoutMs);
      return { success: true };
    } catch (err) {
      return { success: false, error: err as Error };
    }
  }

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.release();
  }
}

function base(answer: { queryId: string }) {
  return { query_id: answer.queryId, response_headers: {}, http_status_code: 200 };
}

function bodyStream(body: Buffer | Uint8Array | undefined): Readable {
  const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const stream = Readable.from([bytes], { objectMode: false });
  // ResultSet.close() destroys an unread stream with an error; nothing else can fail here.
  stream.on('error', () => undefined);
  return stream;
}

async function materialize(values: unknown): Promise<Buffer> {
  if (typeof values === 'string') return Buffer.from(values);
  if (Buffer.isBuffer(values)) return values;
  const chunks: Buffer[] = [];
  for await (const chunk of values as AsyncIterable<unknown>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

function engineError(error: EngineFailure['error']): Error {
  if (error.code !== undefined && error.type !== undefined) {
    return new ClickHouseError({ message: error.message, code: error.code, type: error.type });
  }
  const err = new Error(error.message);
  if (error.name !== undefined) err.name = error.name;
  if (error.closing === true) Object.assign(err, { code: 'ECONNRESET' });
  return err;
}

/** A request the engine's process could not answer: transient, like a dropped connection to a server. */
function dropped(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNRESET' });
}

function openFailed(dataDir: string, message: string): AgentwatchError {
  if (isDirectoryLocked(message)) {
    return new AgentwatchError(
      'AW_CLICKHOUSE_EMBEDDED_CONFLICT',
      `the embedded ClickHouse data directory ${dataDir} is held by another process (another agentwatch, or its engine still closing) and was not released within ${OPEN_WAIT_MS / 1000} s: stop the other one, or point CLICKHOUSE_DATA_DIR elsewhere.`,
      { context: { dataDir } },
    );
  }
  return new AgentwatchError(
    'AW_CLICKHOUSE_UNAVAILABLE',
    `the embedded ClickHouse engine could not open ${dataDir}: ${message}`,
    {
      retryable: true,
      context: { dataDir },
    },
  );
}
