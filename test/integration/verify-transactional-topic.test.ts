// Topics written in transactions: the log's last offset is a commit marker, which no consumer is
// given, and aborted records are never delivered.
// - `agentwatch verify --against-kafka` must end (it waited forever for the marker's offset) and find
//   the store holding exactly the committed records.
// - A partition read to its marker is caught up: once quiet it stops holding event time back (it
//   counted as backlogged for good, so one quiet transactional producer froze the clock), and its
//   offset is committed past the marker (a restart took the marker for a backlog still to come).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTopics, isolatedOverrides, runId, startService, testKafka, waitFor } from './harness.js';
import { repoRoot, stackConfig } from '../../bench/local-stack.js';

const run = runId();
const TOPIC = `agent.tasks.txn-${run}`;
const overrides = isolatedOverrides(run);
const kafka = testKafka();

test('verify --against-kafka ends on a transactional topic and finds exactly the committed records', async () => {
  await createTopics(kafka, [{ topic: TOPIC, numPartitions: 1 }]);
  const producer = kafka.producer({ transactionalId: `txn-${run}`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const message = (i: number) => ({
    key: `wf-${i}`,
    value: JSON.stringify({ workflow_id: `wf-${i}`, task_type: `txn-${run}`, task_id: `t-${i}` }),
  });
  for (let t = 0; t < 3; t += 1) {
    const transaction = await producer.transaction();
    await transaction.send({ topic: TOPIC, messages: Array.from({ length: 10 }, (_, j) => message(t * 10 + j)) });
    await transaction.commit();
  }
  const aborted = await producer.transaction();
  await aborted.send({ topic: TOPIC, messages: [message(99)] });
  await aborted.abort();
  await producer.disconnect();

  const service = await startService(overrides, []);
  try {
    await waitFor('the 30 committed records audited', () => service.stats().audit.rowsWritten >= 30, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // nothing more arrives
    assert.equal(service.stats().audit.rowsWritten, 30, 'the aborted record is not audited');
  } finally {
    await service.stop();
  }

  const config = stackConfig();
  const result = spawnSync(
    process.execPath,
    [join(repoRoot, 'dist/src/cli/main.js'), 'verify', '--topic', TOPIC, '--partition', '0', '--against-kafka'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        KAFKA_BROKERS: config.kafka.brokers.join(','),
        SCHEMA_REGISTRY_URL: config.schemaRegistry.url,
        ...overrides,
      },
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  assert.equal(result.signal, null, `verify did not end: ${result.stderr.slice(-500)}`);
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr.slice(-1000)}`);
  const reports = result.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { againstKafka?: boolean; ok: boolean; compared?: number });
  const source = reports.find((r) => r.againstKafka === true)!;
  assert.deepEqual([source.ok, source.compared], [true, 30], JSON.stringify(reports));
});

test("a transactional producer's partition read to its end is caught up: once quiet it stops holding event time", async () => {
  const quiet = runId();
  const topic = `agent.tasks.txclock-${quiet}`;
  await createTopics(kafka, [{ topic, numPartitions: 1 }]);
  const producer = kafka.producer({ transactionalId: `txclock-${quiet}`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({
    topic,
    messages: [0, 1, 2].map((i) => ({
      key: `wf-${i}`,
      value: JSON.stringify({ workflow_id: `wf-${i}`, task_type: 'txclock', task_id: `t-${i}` }),
    })),
  });
  await transaction.commit();
  await producer.disconnect();

  // Three tasks nobody answers: they time out once event time passes their deadline, which it can
  // only do when their (now silent) partition stops holding it back.
  const service = await startService(
    isolatedOverrides(quiet, { CORRELATE_TASK_TTL_MS: '1000', EVENT_TIME_IDLE_MS: '1000' }),
    [],
  );
  try {
    await waitFor('the three unanswered tasks time out', () => service.stats().correlator.timeouts >= 3, 60_000);
    // Committed past the commit marker: a restart must not take the marker for a backlog still to
    // come (which would hold event time back until the producer writes again).
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [end] = await admin.fetchTopicOffsets(topic);
      const committed = async () =>
        (await admin.fetchOffsets({ groupId: `agentwatch-test-${quiet}`, topics: [topic] }))[0]!.partitions[0]!.offset;
      let last = '';
      await waitFor(
        'the committed offset to reach the high watermark',
        async () => (last = await committed()) === end!.high,
        30_000,
      ).catch(() => assert.fail(`committed ${last}, high watermark ${end!.high}`));
    } finally {
      await admin.disconnect();
    }
  } finally {
    await service.stop();
  }
});

test('a backlog that ends in an aborted transaction is caught up once read: its tasks time out and its offset is committed past the abort', async () => {
  const aborting = runId();
  const topic = `agent.tasks.txabort-${aborting}`;
  await createTopics(kafka, [{ topic, numPartitions: 1 }]);
  const producer = kafka.producer({ transactionalId: `txabort-${aborting}`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const task = (i: number) => ({
    key: `wf-${i}`,
    value: JSON.stringify({ workflow_id: `wf-${i}`, task_type: 'txabort', task_id: `t-${i}` }),
  });
  const committed = await producer.transaction();
  await committed.send({ topic, messages: [0, 1, 2].map(task) });
  await committed.commit();
  // The tail of the log is an aborted transaction: no consumer is ever given its records, so the
  // fetch that reads them hands no batch to the tap (kafkajs resolves it by itself).
  const aborted = await producer.transaction();
  await aborted.send({ topic, messages: [3, 4, 5].map((i) => ({ ...task(i), value: task(i).value.padEnd(2_000) })) });
  await aborted.abort();
  await producer.disconnect();

  // Fetches of at most 1 KiB per partition return one record batch each, so the committed tasks and
  // the aborted tail arrive in separate fetches, as they do when a backlog is larger than one fetch.
  const service = await startService(
    isolatedOverrides(aborting, {
      CORRELATE_TASK_TTL_MS: '1000',
      EVENT_TIME_IDLE_MS: '1000',
      INGEST_MAX_BYTES_PER_PARTITION: '1024',
    }),
    [],
  );
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor('the three unanswered tasks time out', () => service.stats().correlator.timeouts >= 3, 60_000);
    const [end] = await admin.fetchTopicOffsets(topic);
    let last = '';
    await waitFor(
      'the committed offset to reach the high watermark',
      async () =>
        (last = (await admin.fetchOffsets({ groupId: `agentwatch-test-${aborting}`, topics: [topic] }))[0]!
          .partitions[0]!.offset) === end!.high,
      30_000,
    ).catch(() => assert.fail(`committed ${last}, high watermark ${end!.high}`));
    assert.equal(service.stats().audit.rowsWritten, 3, 'the aborted records are not audited');
  } finally {
    await admin.disconnect();
    await service.stop();
  }
});

test('after a restart, a backlog that is only an aborted transaction is caught up: event time moves on', async () => {
  const restart = runId();
  const topic = `agent.tasks.txrestart-${restart}`;
  const fresh = `agent.tasks.txfresh-${restart}`; // tasks nobody answers, produced while agentwatch is down
  await createTopics(
    kafka,
    [topic, fresh].map((t) => ({ topic: t, numPartitions: 1 })),
  );
  const producer = kafka.producer({
    transactionalId: `txrestart-${restart}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const task = (t: string, i: number) => ({
    key: `wf-${i}`,
    value: JSON.stringify({ workflow_id: `wf-${i}`, task_type: 'txrestart', task_id: `t-${t}-${i}` }),
  });
  const admin = kafka.admin();
  await admin.connect();
  const committedOffset = async () =>
    (await admin.fetchOffsets({ groupId: `agentwatch-test-${restart}`, topics: [topic] }))[0]!.partitions[0]!.offset;
  const overrides = isolatedOverrides(restart, { CORRELATE_TASK_TTL_MS: '1000', EVENT_TIME_IDLE_MS: '1000' });
  try {
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [0, 1, 2].map((i) => task(topic, i)) });
    await committed.commit();
    const first = await startService(overrides, []);
    try {
      const [end] = await admin.fetchTopicOffsets(topic);
      await waitFor(
        'the first run commits past the commit marker',
        async () => (await committedOffset()) === end!.high,
        60_000,
      );
    } finally {
      await first.stop();
    }

    // While agentwatch is down: an aborted transaction is all that follows on `topic` (a backlog with
    // nothing to deliver, read in one fetch at the default fetch size), and tasks on `fresh`.
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [3, 4, 5].map((i) => task(topic, i)) });
    await aborted.abort();
    const plain = kafka.producer();
    await plain.connect();
    await plain.send({ topic: fresh, messages: [0, 1, 2].map((i) => task(fresh, i)) });
    await plain.disconnect();

    const second = await startService(overrides, []);
    try {
      await waitFor('the unanswered tasks time out', () => second.stats().correlator.timeouts >= 3, 60_000).catch(() =>
        assert.fail(`timeouts ${second.stats().correlator.timeouts}: the aborted backlog held event time back`),
      );
      const [end] = await admin.fetchTopicOffsets(topic);
      let last = '';
      await waitFor(
        'the committed offset to pass the abort marker',
        async () => (last = await committedOffset()) === end!.high,
        30_000,
      ).catch(() => assert.fail(`committed ${last}, high watermark ${end!.high}`));
    } finally {
      await second.stop();
    }
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
});
