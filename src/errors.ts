// Typed errors with stable codes, and their catalogue: one entry per code with its summary, whether
// retrying can help, the CLI's exit code, the API's HTTP status, and how to fix it. The CLI's exit
// codes, the API's statuses and docs/errors.md (generated: npm run docs:errors) all read it; unit
// tests check that every code thrown in src/ is in it and that docs/errors.md is what it generates.
// A retired code is never reused.

export interface ErrorFacts {
  summary: string;
  /** yes: an outage, trying again later may succeed; no: bad input or configuration; varies: the error says (AgentwatchError.retryable). */
  retryable: 'yes' | 'no' | 'varies';
  /** The exit code of a CLI command that stops with it. */
  exitCode: number;
  /** The status of an API response carrying it; null when the API never answers with it. */
  httpStatus: number | null;
  /** What the message says and how to fix it. */
  help: string;
}

export const ERROR_CATALOGUE = {
  AW_CONFIG_INVALID: {
    summary: 'Configuration is invalid; the message lists every problem and how to fix it.',
    retryable: 'no',
    exitCode: 2,
    httpStatus: null,
    help: 'The message lists every problem, each naming the variable (or file and key) and the accepted values.',
  },
  AW_CLI_USAGE: {
    summary: 'The command line is wrong (unknown command or flag, missing value).',
    retryable: 'no',
    exitCode: 2,
    httpStatus: null,
    help: 'Unknown command, or arguments where none are taken. See `agentwatch --help`.',
  },
  AW_KAFKA_UNAVAILABLE: {
    summary: 'The Kafka brokers could not be reached or refused the request.',
    retryable: 'varies',
    exitCode: 1,
    httpStatus: null,
    help: "The brokers in `KAFKA_BROKERS` did not answer a metadata request, or a start-up step (creating the output topics, reading the DLQ topic's limit) still failed after retrying transient errors for `KAFKA_STARTUP_TIMEOUT_MS`. Check the addresses, and `KAFKA_SASL_*` / `KAFKA_TLS*` for secured clusters.",
  },
  AW_KAFKA_ACCESS_DENIED: {
    summary: 'Kafka refused authentication or authorisation (credentials, ACLs); retrying will not help.',
    retryable: 'no',
    exitCode: 3,
    httpStatus: null,
    help: "Kafka refused the credentials (`KAFKA_SASL_*`) or the principal's ACLs (topics, the consumer group, the cluster). Transient Kafka errors at start (a topic just created without a leader yet, a coordinator moving, a rebalance) are retried and logged instead.",
  },
  AW_REGISTRY_UNAVAILABLE: {
    summary: 'The schema registry could not be reached or answered with an error.',
    retryable: 'yes',
    exitCode: 1,
    httpStatus: null,
    help: 'The schema registry did not answer `GET /subjects`. Check `SCHEMA_REGISTRY_URL` (Apicurio serves the Confluent API under `/apis/ccompat/v7`) and its credentials.',
  },
  AW_CLICKHOUSE_UNAVAILABLE: {
    summary: 'ClickHouse (embedded or server) could not be reached or refused the query.',
    retryable: 'yes',
    exitCode: 1,
    httpStatus: 503,
    help: 'ClickHouse did not answer. With `CLICKHOUSE_URL`, check the URL and credentials; without it, check that `CLICKHOUSE_DATA_DIR` is writable and the engine process starts (its log lines name `enginePid`). The API answers 503 with this code while a ClickHouse server cannot be reached or the embedded engine is restarting.',
  },
  AW_CLICKHOUSE_EMBEDDED_CONFLICT: {
    summary: 'The embedded ClickHouse data directory is held by another process.',
    retryable: 'no',
    exitCode: 1,
    httpStatus: 503,
    help: 'The embedded engine runs in a process of its own that locks `CLICKHOUSE_DATA_DIR`; another agentwatch (a `run`, or a command such as `verify`), or the engine process of an agentwatch that just ended and is still finishing a request, has it open. A new engine waits 30 s for it. Stop the other agentwatch, or point `CLICKHOUSE_DATA_DIR` elsewhere; several processes share a store through a ClickHouse server (`CLICKHOUSE_URL`).',
  },
  AW_SCORE_INPUT_INVALID: {
    summary: 'The input of `agentwatch score` is malformed; the message names the line and column.',
    retryable: 'no',
    exitCode: 2,
    httpStatus: null,
    help: 'A non-numeric cell, a ragged row, invalid JSON. The message names the line and column.',
  },
  AW_DETECT_FEATURE_UNKNOWN: {
    summary: 'DETECT_FEATURES or --columns names a feature or column that does not exist.',
    retryable: 'no',
    exitCode: 2,
    httpStatus: null,
    help: '`DETECT_FEATURES` or `score --columns` names a feature or column that does not exist; the message lists the valid names.',
  },
  AW_API_BAD_REQUEST: {
    summary: 'A parameter is unknown, malformed or out of range; the message names it.',
    retryable: 'no',
    exitCode: 1,
    httpStatus: 400,
    help: 'An unknown, malformed or out-of-range parameter (the message names it), or a cursor the API did not issue.',
  },
  AW_API_UNAUTHORIZED: {
    summary: 'No valid API key was presented.',
    retryable: 'no',
    exitCode: 1,
    httpStatus: 401,
    help: 'Send `Authorization: Bearer <key>` (or `X-API-Key`) with a key from `API_KEYS`.',
  },
  AW_API_FORBIDDEN: {
    summary: 'The API key lacks the role the route needs.',
    retryable: 'no',
    exitCode: 1,
    httpStatus: 403,
    help: "The key's roles do not include the route's (auditor: audit, export, verify; sre: anomalies, agents; admin: all).",
  },
  AW_API_NOT_FOUND: {
    summary: 'No such route, or no such agent.',
    retryable: 'no',
    exitCode: 1,
    httpStatus: 404,
    help: 'No such route (see `/openapi.json`), or no such agent (`GET /v1/agents` lists them).',
  },
  AW_API_CONFLICT: {
    summary: 'The request does not fit the current state (e.g. accepting an agent with no firing incident).',
    retryable: 'no',
    exitCode: 1,
    httpStatus: 409,
    help: 'E.g. `POST /v1/agents/{agent}/accept` for an agent with no firing incident.',
  },
  AW_API_BUSY: {
    summary: 'The API serves as many live alert streams as it may; try again later.',
    retryable: 'yes',
    exitCode: 1,
    httpStatus: 503,
    help: '`GET /v1/alerts/stream` serves at most 100 clients per instance; reconnect later (with `Last-Event-ID`, nothing is missed).',
  },
  AW_API_INTERNAL: {
    summary: 'The request failed inside agentwatch; details are in the server log only.',
    retryable: 'yes',
    exitCode: 1,
    httpStatus: 500,
    help: 'The query failed inside agentwatch; the details are logged, never returned.',
  },
  AW_INGEST_WORKER_FAILED: {
    summary: 'An ingest worker thread stopped while it held batches; the main thread decodes them.',
    retryable: 'yes',
    exitCode: 1,
    httpStatus: null,
    help: 'A worker of `INGEST_WORKERS` exited, failed, threw on a batch or sent a reply that could not be read (the warning says why). The batches it held are decoded on the main thread at once, and a new worker takes the next ones; nothing is skipped. After 5 failures in a row the workers are given up and everything is decoded on the main thread (an error says so). Report it with the log, and set `INGEST_WORKERS=0` meanwhile.',
  },
  AW_UNEXPECTED: {
    summary: 'A failure agentwatch has no code for (a bug, or an error of a library).',
    retryable: 'no',
    exitCode: 1,
    httpStatus: null,
    help: 'The message is the underlying error. Please report it with the log.',
  },
} as const satisfies Record<string, ErrorFacts>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Each code's summary. */
export const ERROR_CODES = Object.fromEntries(
  Object.entries(ERROR_CATALOGUE).map(([code, facts]) => [code, facts.summary]),
) as Record<ErrorCode, string>;

/** The exit code of a CLI command that stops with `err` (1 for anything without a code). */
export function exitCodeOf(err: unknown): number {
  return err instanceof AgentwatchError ? ERROR_CATALOGUE[err.code].exitCode : 1;
}

/** docs/errors.md, generated from the catalogue. */
export function errorsMarkdown(): string {
  const rows = Object.entries(ERROR_CATALOGUE).map(
    ([code, f]: [string, ErrorFacts]) =>
      `| \`${code}\` | ${f.retryable} | ${f.exitCode} | ${f.httpStatus ?? '-'} | ${f.summary} ${f.help} |`,
  );
  return [
    '# Error codes',
    '',
    '<!-- Generated from src/errors.ts (ERROR_CATALOGUE) by `npm run docs:errors`; do not edit by hand. -->',
    '',
    'Every error agentwatch raises on purpose carries a stable code. Codes are never reused. `retryable`:',
    'yes for outages (trying again later may succeed), no for bad input or configuration, varies when',
    'the error says which. A CLI command that stops with an error exits with its exit code; an API',
    'response carrying it has its HTTP status, with the body `{"error": {"code", "message"}}`.',
    '',
    '| code | retryable | exit code | HTTP status | meaning and fix |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

export interface AgentwatchErrorOptions {
  cause?: unknown;
  /** True when trying the same operation again later may succeed (an outage, not bad input). */
  retryable?: boolean;
  /** Facts that help the reader locate the problem (field, file, topic, offset, ...). Never secrets. */
  context?: Record<string, unknown>;
}

export class AgentwatchError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: AgentwatchErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentwatchError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.context = options.context ?? {};
  }
}

export function isAgentwatchError(err: unknown, code?: ErrorCode): err is AgentwatchError {
  return err instanceof AgentwatchError && (code === undefined || err.code === code);
}

/** The message of any thrown value, for logs and wrapped errors. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
