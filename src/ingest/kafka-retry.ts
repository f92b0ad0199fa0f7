// Which Kafka errors a client retries, and a retry loop for the steps of starting up and
// (re)subscribing. Transient: the cluster is settling (a topic just created has no leader yet, a
// coordinator moved, a rebalance runs) or a connection dropped. Fatal: authentication,
// authorisation, and anything else: retrying will not help, so the caller fails at once.

import { AgentwatchError, messageOf } from '../errors.js';
import type { Logger } from '../logger.js';

/** Broker error types that clear by themselves (Kafka protocol error names, as kafkajs reports them). */
const TRANSIENT_TYPES = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'NOT_COORDINATOR',
  'NOT_COORDINATOR_FOR_GROUP',
  'COORDINATOR_NOT_AVAILABLE',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'GROUP_LOAD_IN_PROGRESS',
  'REBALANCE_IN_PROGRESS',
  'NOT_CONTROLLER',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'KAFKA_STORAGE_ERROR',
  'UNKNOWN_LEADER_EPOCH',
  'FENCED_LEADER_EPOCH',
  'OFFSET_NOT_AVAILABLE',
]);
/** kafkajs client-side errors that mean "not yet" rather than "never". */
const TRANSIENT_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSGroupCoordinatorNotFound',
]);
const ACCESS_TYPES = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'DELEGATION_TOKEN_AUTHORIZATION_FAILED',
]);

/** The error and the errors it wraps (kafkajs nests the broker's error in `originalError`, retries in `cause`). */
function* chain(err: unknown): Generator<{ name?: unknown; type?: unknown; retriable?: unknown }> {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 6; depth += 1) {
    yield e as { name?: unknown; type?: unknown; retriable?: unknown };
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
}

/** Whether the error, or one it wraps, is a broker error of one of `types` (e.g. MESSAGE_TOO_LARGE). */
export function hasKafkaErrorType(err: unknown, types: ReadonlySet<string>): boolean {
  for (const e of chain(err)) if (typeof e.type === 'string' && types.has(e.type)) return true;
  return false;
}

/** Authentication or authorisation failed: fatal. */
export function isKafkaAccessDenied(err: unknown): boolean {
  for (const e of chain(err)) {
    if (typeof e.type === 'string' && ACCESS_TYPES.has(e.type)) return true;
    if (e.name === 'KafkaJSSASLAuthenticationError') return true;
  }
  return false;
}

/** The cluster is settling or a connection dropped: worth trying again. */
export function isTransientKafkaError(err: unknown): boolean {
  if (isKafkaAccessDenied(err)) return false;
  // An aggregate (e.g. of CreateTopics, one error per topic) is transient when each part is.
  const parts = (err as { errors?: unknown } | null)?.errors;
  if (Array.isArray(parts) && parts.length > 0) return parts.every(isTransientKafkaError);
  for (const e of chain(err)) {
    if (typeof e.type === 'string' && TRANSIENT_TYPES.has(e.type)) return true;
    if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  }
  return false;
}

export interface KafkaRetryOptions {
  logger: Logger;
  /** Give up (and fail) once this much time passed since the first attempt. */
  deadlineMs: number;
  firstBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Runs `step` until it succeeds, retrying transient Kafka errors with backoff (each logged). Access
 * denied: AW_KAFKA_ACCESS_DENIED at once. Anything else, or still failing at the deadline:
 * AW_KAFKA_UNAVAILABLE naming the step.
 */
export async function withKafkaRetry<T>(what: string, step: () => Promise<T>, options: KafkaRetryOptions): Promise<T> {
  const started = Date.now();
  let backoff = options.firstBackoffMs ?? 200;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await step();
    } catch (err) {
      if (isKafkaAccessDenied(err)) {
        throw new AgentwatchError(
          'AW_KAFKA_ACCESS_DENIED',
          `Kafka refused ${what}: ${messageOf(err)}. Check KAFKA_SASL_* (credentials) and the ACLs of this principal (the topics, the consumer group, the cluster).`,
          { cause: err },
        );
      }
      if (!isTransientKafkaError(err) || Date.now() - started + backoff > options.deadlineMs) {
        throw new AgentwatchError(
          'AW_KAFKA_UNAVAILABLE',
          `${what} failed after ${attempt} attempt(s) in ${Math.round((Date.now() - started) / 1000)} s: ${messageOf(err)}`,
          { cause: err, retryable: isTransientKafkaError(err) },
        );
      }
      options.logger.warn({ err: messageOf(err), attempt, retryInMs: backoff }, `${what}: Kafka is settling; retrying`);
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, options.maxBackoffMs ?? 5_000);
    }
  }
}
