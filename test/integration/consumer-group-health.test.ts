// Consumer group health against the real broker: a worker group that stops committing while it
// keeps its members is STALLED within 2 evaluations (status and change event); once its members
// leave it is STOPPED, and its lag in seconds grows with wall time. A healthy group beside it stays
// OK with its lag near 0. Records are produced every 100 ms for the whole test.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Admin, Consumer, Producer } from 'kafkajs';
import {
  GroupHealthWatch,
  NOT_AGENT_RECHECK_EVALUATIONS,
  type GroupHealth,
  type GroupStatus,
} from '../../src/ingest/group-health.js';
import { createLogger } from '../../src/logger.js';
import { connectedProducer, createTopics, runId, testKafka, waitFor } from './harness.js';
import { repoRoot, stackConfig } from '../../bench/local-stack.js';

const run = runId();
const kafka = testKafka();
const topic = `agent.tasks.cghealth-${run}`;
const workersGroup = `cghealth-workers-${run}`;
const healthyGroup = `cghealth-healthy-${run}`;
const INTERVAL_MS = 1_000;
const logger = createLogger('error');
// Other tests share the broker: this watch sees only this run's groups and topic.
const watchOptions = {
  isAgentTopic: (t: string) => t === topic,
  excludeGroup: (g: string) => g !== workersGroup && g !== healthyGroup,
  intervalMs: INTERVAL_MS,
  maxGroups: 10,
};

let admin: Admin;
let producer: Producer;
let producing: Promise<void> | undefined;
let stopProducing = false;
let workers: Consumer | undefined;
let healthy: Consumer;
/** Set to stop the workers committing; they keep consuming, heartbeating and their partitions. */
let workersStalled = false;
let watch: GroupHealthWatch | undefined;
const changes: Array<{ groupId: string; status: GroupStatus; previous: GroupStatus | undefined; evaluation: number }> =
  [];

async function committed(groupId: string): Promise<boolean> {
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  return offsets.some((t) => t.partitions.some((p) => Number(p.offset) > 0));
}

function health(groupId: string): GroupHealth | undefined {
  return watch?.snapshot().find((h) => h.groupId === groupId);
}

before(async () => {
  await createTopics(kafka, [{ topic, numPartitions: 2 }]);
  admin = kafka.admin();
  await admin.connect();
  producer = await connectedProducer(kafka);
  producing = (async () => {
    for (let i = 0; !stopProducing; i += 1) {
      await producer.send({ topic, messages: [{ key: `task-${i}`, value: JSON.stringify({ task_id: `task-${i}` }) }] });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();

  // The workers acknowledge each task by committing it, until told to stop.
  const w = kafka.consumer({ groupId: workersGroup, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  workers = w;
  await w.connect();
  await w.subscribe({ topics: [topic], fromBeginning: true });
  await w.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (workersStalled) return;
      await w.commitOffsets([{ topic, partition, offset: String(BigInt(message.offset) + 1n) }]);
    },
  });
  healthy = kafka.consumer({ groupId: healthyGroup, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  await healthy.connect();
  await healthy.subscribe({ topics: [topic], fromBeginning: true });
  await healthy.run({ autoCommit: true, eachMessage: async () => {} });
  await waitFor(
    'both groups committed',
    async () => (await committed(workersGroup)) && (await committed(healthyGroup)),
  );
});

after(async () => {
  await watch?.stop();
  stopProducing = true;
  await producing;
  await workers?.disconnect();
  await healthy.disconnect();
  await producer.disconnect();
  await admin.disconnect();
});

test('workers that stop committing are STALLED within 2 evaluations, STOPPED when they leave, and fall behind in seconds with wall time', async () => {
  const w = new GroupHealthWatch(admin, watchOptions, logger);
  watch = w;
  w.onStatusChange((current, previous) =>
    changes.push({ groupId: current.groupId, status: current.status, previous, evaluation: w.stats().evaluations }),
  );
  w.start();
  const evaluations = () => w.stats().evaluations;

  // Healthy at first: both groups OK, seen as they first were.
  await waitFor('3 evaluations', () => evaluations() >= 3, 15_000);
  assert.equal(health(workersGroup)?.status, 'OK', JSON.stringify(health(workersGroup)));
  assert.ok(health(workersGroup)!.commitRate > 0, JSON.stringify(health(workersGroup)));

  // The workers stop committing while staying in the group.
  workersStalled = true;
  const stalledAt = Date.now();
  const atStop = evaluations(); // includes a pass that may be running now
  await waitFor('the workers STALLED', () => health(workersGroup)?.status === 'STALLED', 10_000);
  const stalled = changes.find((c) => c.groupId === workersGroup && c.status === 'STALLED');
  assert.ok(stalled !== undefined, 'a status change to STALLED was reported');
  assert.equal(stalled.previous, 'OK');
  assert.ok(
    stalled.evaluation <= atStop + 2,
    `STALLED at evaluation ${stalled.evaluation}, commits stopped at ${atStop}`,
  );
  assert.ok(health(workersGroup)!.members > 0);
  assert.equal(health(workersGroup)!.commitRate, 0);

  // The healthy group beside it: OK all along, lag near 0 (10 records/s, committed after each batch).
  const ok = health(healthyGroup)!;
  assert.equal(ok.status, 'OK', JSON.stringify(ok));
  assert.ok(ok.lagRecords <= 10, JSON.stringify(ok));
  assert.ok(ok.lagSeconds < 2, JSON.stringify(ok));
  assert.deepEqual(
    changes.filter((c) => c.groupId === healthyGroup).map((c) => [c.status, c.previous]),
    [['OK', undefined]],
  );

  // The workers leave: STOPPED, and the age of their oldest unconsumed record grows with wall time.
  await workers!.disconnect();
  workers = undefined;
  await waitFor('the workers STOPPED', () => health(workersGroup)?.status === 'STOPPED', 10_000);
  assert.deepEqual(
    changes.filter((c) => c.groupId === workersGroup).map((c) => c.status),
    ['OK', 'STALLED', 'STOPPED'],
  );
  const samples: GroupHealth[] = [health(workersGroup)!];
  while (samples.length < 4) {
    const last = samples.at(-1)!.evaluatedAt;
    await waitFor('the next evaluation', () => health(workersGroup)!.evaluatedAt > last, 5_000);
    samples.push(health(workersGroup)!);
  }
  for (const [i, s] of samples.entries()) {
    assert.equal(s.status, 'STOPPED');
    assert.equal(s.members, 0);
    assert.equal(s.lagSecondsLowerBound, false);
    if (i === 0) continue;
    const before = samples[i - 1]!;
    assert.ok(s.lagRecords > before.lagRecords, 'the backlog grows while nobody consumes');
    // The oldest unconsumed record stays the same one: its age grows exactly as the clock does.
    const grew = s.lagSeconds - before.lagSeconds;
    const elapsed = (s.evaluatedAt - before.evaluatedAt) / 1000;
    assert.ok(Math.abs(grew - elapsed) < 0.01, `lag grew ${grew} s in ${elapsed} s`);
  }
  // It is the first record produced after the stall.
  const sinceStall = (samples.at(-1)!.evaluatedAt - stalledAt) / 1000;
  assert.ok(
    Math.abs(samples.at(-1)!.lagSeconds - sinceStall) < 1.5,
    `lag ${samples.at(-1)!.lagSeconds} s, stalled ${sinceStall} s ago`,
  );
});

test('at most maxGroups groups are watched, the rest counted; a group whose description fails is ERROR', async () => {
  // The real admin with DescribeGroups failing, as a broker refusing it would.
  const refusing: Admin = {
    ...admin,
    describeGroups: async () => {
      throw new Error('injected: DescribeGroups refused');
    },
  };
  const limited = new GroupHealthWatch(refusing, { ...watchOptions, maxGroups: 1 }, logger);
  const result = await limited.evaluate();
  // New groups are taken in name order: cghealth-healthy-… before cghealth-workers-….
  assert.deepEqual(
    result.map((h) => [h.groupId, h.status]),
    [[healthyGroup, 'ERROR']],
  );
  assert.match(result[0]!.reason, /describing it failed: injected: DescribeGroups refused/);
  assert.equal(limited.stats().groupsNotWatched, 1);
  assert.equal(limited.stats().groupsWatched, 1);
});

test("another application's group is looked at once in NOT_AGENT_RECHECK_EVALUATIONS evaluations, a group that committed nothing at every one, and it is watched soon after it moves to an agent topic", async () => {
  const otherTopic = `other.cghealth-${run}`;
  const otherGroup = `cghealth-other-${run}`;
  const freshGroup = `cghealth-fresh-${run}`;
  await createTopics(kafka, [{ topic: otherTopic, numPartitions: 1 }]);
  // Another application's group: offsets on a topic that is not an agent topic.
  await admin.setOffsets({ groupId: otherGroup, topic: otherTopic, partitions: [{ partition: 0, offset: '0' }] });
  // A group that joined and has committed nothing yet (it may be an agent group about to commit).
  const fresh = kafka.consumer({ groupId: freshGroup, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  try {
    await fresh.connect();
    await fresh.subscribe({ topics: [otherTopic] });
    await fresh.run({ autoCommit: false, eachMessage: async () => {} });
    await waitFor('the fresh group is listed', async () =>
      (await admin.listGroups()).groups.some((g) => g.groupId === freshGroup),
    );
    const fetched = new Map<string, number>();
    const counting: Admin = {
      ...admin,
      fetchOffsets: (async (options: Parameters<Admin['fetchOffsets']>[0]) => {
        fetched.set(options.groupId, (fetched.get(options.groupId) ?? 0) + 1);
        return admin.fetchOffsets(options);
      }) as Admin['fetchOffsets'],
    };
    const ours = new Set([workersGroup, healthyGroup, otherGroup, freshGroup]);
    const looking = new GroupHealthWatch(counting, { ...watchOptions, excludeGroup: (g) => !ours.has(g) }, logger);
    const watched = () => looking.snapshot().map((h) => h.groupId);

    const evaluations = 2 * NOT_AGENT_RECHECK_EVALUATIONS + 1;
    for (let i = 0; i < evaluations; i += 1) await looking.evaluate();
    assert.equal(fetched.get(healthyGroup), evaluations, 'a watched group is read at every evaluation');
    assert.equal(fetched.get(freshGroup), evaluations, 'a group that committed nothing is read at every evaluation');
    // The first evaluation, then one in every NOT_AGENT_RECHECK_EVALUATIONS of the 2 × that many after it.
    assert.equal(fetched.get(otherGroup), 3);
    assert.equal(looking.stats().groupsWithoutAgentTopics, 1);
    assert.ok(!watched().includes(otherGroup));

    // It moves to an agent topic: watched within NOT_AGENT_RECHECK_EVALUATIONS evaluations.
    await admin.setOffsets({ groupId: otherGroup, topic, partitions: [{ partition: 0, offset: '0' }] });
    let more = 0;
    while (!watched().includes(otherGroup)) {
      assert.ok(more < NOT_AGENT_RECHECK_EVALUATIONS, `not watched after ${more} evaluations`);
      await looking.evaluate();
      more += 1;
    }
    assert.equal(looking.stats().groupsWithoutAgentTopics, 0);
  } finally {
    await fresh.disconnect();
    await admin.deleteGroups([otherGroup, freshGroup]).catch(() => undefined);
    await admin.deleteTopics({ topics: [otherTopic] }).catch(() => undefined);
  }
});

/** The Kafka 4.x broker's classpath of the local stack (its Java clients speak the consumer protocol), if there is one. */
function kafka4Classpath(): string | undefined {
  const dir = join(process.env.AGENTWATCH_STACK_DIR ?? join(repoRoot, '.stack'), 'kafka');
  if (!existsSync(dir)) return undefined;
  const file = readdirSync(dir).find((f) => /^classpath-4\.\d+\.\d+\.txt$/.test(f));
  return file === undefined ? undefined : readFileSync(join(dir, file), 'utf8').trim();
}

test('a group of the consumer protocol (KIP-848, a real Java consumer) is OK while it commits, never STOPPED, and STALLED when it stops', async (t) => {
  const classpath = kafka4Classpath();
  if (classpath === undefined) {
    t.skip('the stack runs Kafka 3.x (STACK_KAFKA_VERSION): no consumer protocol');
    return;
  }
  const group = `cghealth-kip848-${run}`;
  const java = spawn(
    'java',
    [
      '-cp',
      classpath,
      `-Dlog4j2.configurationFile=file:${join(repoRoot, 'scripts/stack/kafka-log4j2.properties')}`,
      'org.apache.kafka.tools.consumer.ConsoleConsumer',
      '--bootstrap-server',
      stackConfig().kafka.brokers[0]!,
      '--topic',
      topic,
      '--group',
      group,
      '--consumer-property',
      'group.protocol=consumer',
      '--consumer-property',
      'auto.commit.interval.ms=200',
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  try {
    const watch = new GroupHealthWatch(admin, { ...watchOptions, excludeGroup: (g: string) => g !== group }, logger);
    await waitFor('the Java consumer committed', () => committed(group), 60_000);
    const first = (await watch.evaluate()).find((h) => h.groupId === group)!;
    assert.equal(first.members, -1, 'the classic DescribeGroups cannot tell its members');
    for (let i = 0; i < 2; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const h = (await watch.evaluate()).find((x) => x.groupId === group)!;
      assert.equal(h.status, 'OK', JSON.stringify(h));
    }
    java.kill('SIGKILL');
    await waitFor(
      'STALLED once its commits stop while records wait',
      async () => (await watch.evaluate()).find((h) => h.groupId === group)?.status === 'STALLED',
      30_000,
    );
    const stalled = watch.snapshot().find((h) => h.groupId === group)!;
    assert.match(stalled.reason, /members unknown: a KIP-848 group/);
  } finally {
    java.kill('SIGKILL');
  }
});
