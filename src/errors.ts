// Typed errors with stable codes. Every code is documented in docs/errors.md (a unit test keeps the
// two in sync); a retired code is never reused.

export const ERROR_CODES = {
  AW_CONFIG_INVALID: 'Configuration is invalid; the message lists every problem and how to fix it.',
  AW_CLI_USAGE: 'The command line is wrong (unknown command or flag, missing value).',
  AW_KAFKA_UNAVAILABLE: 'The Kafka brokers could not be reached or refused the request.',
  AW_KAFKA_ACCESS_DENIED: 'Kafka refused authentication or authorisation (credentials, ACLs); retrying will not help.',
  AW_REGISTRY_UNAVAILABLE: 'The schema registry could not be reached or answered with an error.',
  AW_CLICKHOUSE_UNAVAILABLE: 'ClickHouse (embedded or server) could not be reached or refused the query.',
  AW_CLICKHOUSE_EMBEDDED_CONFLICT:
    'The embedded ClickHouse engine already has another data directory open in this process.',
  AW_SCORE_INPUT_INVALID: 'The input of `agentwatch score` is malformed; the message names the line and column.',
  AW_DETECT_FEATURE_UNKNOWN: 'DETECT_FEATURES or --columns names a feature or column that does not exist.',
  AW_API_BAD_REQUEST: 'HTTP 400: a parameter is unknown, malformed or out of range; the message names it.',
  AW_API_UNAUTHORIZED: 'HTTP 401: no valid API key was presented.',
  AW_API_FORBIDDEN: 'HTTP 403: the API key lacks the role the route needs.',
  AW_API_NOT_FOUND: 'HTTP 404: no such route, or no such agent.',
  AW_API_CONFLICT:
    'HTTP 409: the request does not fit the current state (e.g. accepting an agent with no firing incident).',
  AW_API_INTERNAL: 'HTTP 500: the request failed inside agentwatch; details are in the server log only.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

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
