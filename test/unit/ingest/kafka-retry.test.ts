// Which Kafka errors are retried at start (the cluster settling) and which end it (access denied,
// anything else), with the errors kafkajs itself builds.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { isAgentwatchError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logger.js';
import { isKafkaAccessDenied, isTransientKafkaError, withKafkaRetry } from '../../../src/ingest/index.js';

const {
  KafkaJSProtocolError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSConnectionError,
  KafkaJSSASLAuthenticationError,
  KafkaJSNonRetriableError,
} = kafkajs;
// kafkajs builds its protocol errors from the broker's error entry ({ type, code, retriable, message }); its typings declare only Error | string.
const protocol = (type: string, code: number, retriable: boolean, message: string) =>
  new KafkaJSProtocolError({ type, code, retriable, message } as unknown as Error);
const unknownPartition = () =>
  protocol('UNKNOWN_TOPIC_OR_PARTITION', 3, true, 'This server does not host this topic-partition');
const logger = createLogger('fatal');

describe('kafka errors', () => {
  test('the cluster settling is transient, also wrapped in kafkajs retries', () => {
    assert.equal(isTransientKafkaError(unknownPartition()), true);
    assert.equal(
      isTransientKafkaError(new KafkaJSNumberOfRetriesExceeded(unknownPartition(), { retryCount: 5, retryTime: 300 })),
      true,
    );
    assert.equal(
      isTransientKafkaError(protocol('LEADER_NOT_AVAILABLE', 5, true, 'There is no leader for this topic-partition')),
      true,
    );
    assert.equal(isTransientKafkaError(protocol('REBALANCE_IN_PROGRESS', 27, false, 'The group is rebalancing')), true);
    assert.equal(isTransientKafkaError(protocol('NOT_COORDINATOR', 16, true, 'not the coordinator')), true);
    assert.equal(isTransientKafkaError(new KafkaJSConnectionError('Connection error: ECONNREFUSED')), true);
  });

  test('access denied and other errors are not', () => {
    const denied = protocol('TOPIC_AUTHORIZATION_FAILED', 29, false, 'Not authorized to access topics');
    assert.equal(isKafkaAccessDenied(denied), true);
    assert.equal(isTransientKafkaError(denied), false);
    assert.equal(
      isKafkaAccessDenied(
        new (KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error)(
          'SASL PLAIN authentication failed',
        ),
      ),
      true,
    );
    assert.equal(
      isTransientKafkaError(
        new KafkaJSNonRetriableError(protocol('INVALID_REPLICATION_FACTOR', 38, false, 'bad factor')),
      ),
      false,
    );
    assert.equal(isTransientKafkaError(new Error('boom')), false);
  });

  test('withKafkaRetry retries a transient error until the step succeeds', async () => {
    let calls = 0;
    const value = await withKafkaRetry(
      'subscribing',
      async () => {
        calls += 1;
        if (calls < 3) throw unknownPartition();
        return 'ok';
      },
      { logger, deadlineMs: 10_000, firstBackoffMs: 1 },
    );
    assert.deepEqual([value, calls], ['ok', 3]);
  });

  test('withKafkaRetry fails at once on access denied (AW_KAFKA_ACCESS_DENIED), and at the deadline with AW_KAFKA_UNAVAILABLE', async () => {
    let calls = 0;
    await assert.rejects(
      withKafkaRetry(
        'subscribing',
        async () => {
          calls += 1;
          throw protocol('GROUP_AUTHORIZATION_FAILED', 30, false, 'Not authorized to access group');
        },
        { logger, deadlineMs: 10_000, firstBackoffMs: 1 },
      ),
      (err) => isAgentwatchError(err, 'AW_KAFKA_ACCESS_DENIED'),
    );
    assert.equal(calls, 1);
    await assert.rejects(
      withKafkaRetry(
        'subscribing',
        async () => {
          throw unknownPartition();
        },
        { logger, deadlineMs: 50, firstBackoffMs: 10 },
      ),
      (err) =>
        isAgentwatchError(err, 'AW_KAFKA_UNAVAILABLE') && /subscribing failed after \d+ attempt/.test(err.message),
    );
  });
});
