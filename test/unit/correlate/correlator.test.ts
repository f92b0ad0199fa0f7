import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Correlator } from '../../../src/correlate/index.js';
import type { AgentEvent } from '../../../src/decode/index.js';

const T0 = 1_700_000_000_000;
let offset = 0;

function event(kind: AgentEvent['kind'], at: number, ids: Partial<AgentEvent> = {}): AgentEvent {
  return {
    topic: kind === 'request' ? 'agent.tasks.x' : 'agent.results.x',
    partition: 0,
    offset: String(offset++),
    timestamp: at,
    key: null,
    headers: {},
    producer: 'x',
    capability: 'x',
    workflowId: null,
    taskId: null,
    messageId: null,
    contextId: null,
    rpcId: null,
    method: null,
    step: null,
    kind,
    state: kind === 'result' ? 'completed' : null,
    errorType: null,
    attempt: 1,
    payloadBytes: 10,
    encoding: 'json',
    schemaId: null,
    parseError: null,
    dlqReason: null,
    body: null,
    value: null,
    latencyMs: null,
    retries: 0,
    timedOut: false,
    clockSkew: null,
    answeredBy: null,
    ...ids,
  };
}

/** Heap in use after a full garbage collection. */
function liveHeap(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

const options = { taskTtlMs: 60_000, maxInFlight: 1000, maxRecent: 1000 };

/** One task whose first attempt failed (answered after 135 ms) and whose retry succeeded (after 250 ms). */
function failedThenRetried() {
  return {
    first: event('request', T0, { taskId: 't' }),
    failed: event('error', T0 + 135, { taskId: 't' }),
    retry: event('request', T0 + 360, { taskId: 't' }),
    result: event('result', T0 + 610, { taskId: 't' }),
  };
}

describe('Correlator', () => {
  test('a result answers its request by task id: latency, no retry', () => {
    const c = new Correlator(options);
    const request = event('request', T0, { taskId: 't1' });
    const result = event('result', T0 + 250, { taskId: 't1' });
    assert.deepEqual(c.process([request, result], T0 + 250), []);
    assert.equal(result.latencyMs, 250);
    assert.equal(result.retries, 0);
    assert.equal(c.stats().inFlight, 0);
    assert.equal(c.stats().answered, 1);
  });

  test('an A2A response finds a request that had only a JSON-RPC id', () => {
    const c = new Correlator(options);
    const request = event('request', T0, { rpcId: '17', method: 'SendMessage' });
    const response = event('result', T0 + 40, { rpcId: '17', taskId: 'server-assigned' });
    c.process([request, response], T0 + 40);
    assert.equal(response.latencyMs, 40);
  });

  test('a task id is its own key, yet no task id can pose as a key of another kind (JSON-RPC id, workflow)', () => {
    const c = new Correlator(options);
    const request = event('request', T0, { rpcId: '7', method: 'SendMessage' });
    const seed = event('request', T0, { workflowId: 'wf', step: '1' });
    // Task ids spelled like the other kinds' keys, as a hostile producer might.
    const posingAsRpc = event('result', T0 + 5, { taskId: '\u0000r:x|7' });
    const posingAsWorkflow = event('result', T0 + 6, { taskId: '\u0000w:wf|x|1' });
    c.process([request, seed, posingAsRpc, posingAsWorkflow], T0 + 6);
    assert.deepEqual([posingAsRpc.latencyMs, posingAsWorkflow.latencyMs], [null, null]);
    assert.equal(c.stats().inFlight, 2, 'both requests still wait for their own answers');
    const answer = event('result', T0 + 9, { rpcId: '7' });
    const seedAnswer = event('result', T0 + 10, { workflowId: 'wf', step: '1' });
    c.process([answer, seedAnswer], T0 + 10);
    assert.deepEqual([answer.latencyMs, seedAnswer.latencyMs], [9, 10]);
    // And a task id that starts with NUL is still a task id.
    const nulRequest = event('request', T0, { taskId: '\u0000t' });
    const nulAnswer = event('result', T0 + 3, { taskId: '\u0000t' });
    c.process([nulRequest, nulAnswer], T0 + 3);
    assert.equal(nulAnswer.latencyMs, 3);
  });

  test('the seed envelope pairs by workflow + capability + step when there is no task id', () => {
    const c = new Correlator(options);
    const request = event('request', T0, { workflowId: 'wf', step: '2' });
    const other = event('result', T0 + 5, { workflowId: 'wf', step: '1' });
    const result = event('result', T0 + 9, { workflowId: 'wf', step: '2' });
    c.process([request, other, result], T0 + 9);
    assert.equal(other.latencyMs, null);
    assert.equal(result.latencyMs, 9);
    assert.equal(c.stats().pendingAnswers, 1, 'the step-1 answer waits for its request');
    c.process([], T0 + 5 + 60_000);
    assert.deepEqual([c.stats().pendingAnswers, c.stats().orphanAnswers], [0, 1], 'and gives up after the TTL');
  });

  test('an answer read before its request (catching up) pairs when the request arrives: the request carries the latency', () => {
    const c = new Correlator(options);
    const result = event('result', T0 + 700, { taskId: 't' });
    c.process([result], T0);
    assert.equal(result.latencyMs, null);
    const request = event('request', T0 + 200, { taskId: 't' });
    assert.deepEqual(c.process([request], T0 + 700), []);
    assert.equal(request.latencyMs, 500);
    assert.deepEqual(
      [c.stats().inFlight, c.stats().pendingAnswers, c.stats().answered, c.stats().orphanAnswers],
      [0, 0, 1, 0],
    );
  });

  test('regression: an answer waiting for its request is not taken by another task of the same workflow', () => {
    // Found by the 10,000-record test: pending answers were filed under the shared workflow key too.
    const c = new Correlator(options);
    const answerOfA = event('result', T0 + 100, { taskId: 'a', workflowId: 'wf' });
    c.process([answerOfA], T0);
    const requestOfB = event('request', T0 + 10, { taskId: 'b', workflowId: 'wf' });
    const requestOfA = event('request', T0 + 20, { taskId: 'a', workflowId: 'wf' });
    c.process([requestOfB, requestOfA], T0 + 100);
    assert.deepEqual([requestOfB.latencyMs, requestOfA.latencyMs], [null, 80]);
    const timeouts = c.process([], T0 + 10 + 60_000);
    assert.deepEqual(
      timeouts.map((t) => t.taskId),
      ['b'],
    );
  });

  test('a retry read after the answer it got is a retry of the answered task, not a new task', () => {
    const c = new Correlator(options);
    const result = event('result', T0 + 5_300, { taskId: 't' });
    const first = event('request', T0, { taskId: 't' });
    const retry = event('request', T0 + 5_000, { taskId: 't' });
    c.process([result], T0);
    c.process([first, retry], T0 + 5_300);
    assert.deepEqual([first.latencyMs, first.retries], [5_300, 0], 'from the first attempt to the answer');
    assert.deepEqual([retry.latencyMs, retry.retries], [300, 1], 'from the retry to the answer');
    assert.deepEqual(c.process([], T0 + 1_000_000), [], 'nothing is left to time out');
    assert.equal(c.stats().retries, 1);
  });

  test('a task requested again is a retry; the answer carries the retry count and the latency of the last attempt', () => {
    const c = new Correlator(options);
    const first = event('request', T0, { taskId: 't' });
    const second = event('request', T0 + 1000, { taskId: 't' });
    const result = event('result', T0 + 1300, { taskId: 't' });
    c.process([first, second, result], T0 + 1300);
    assert.deepEqual(
      [first.retries, second.retries, second.attempt],
      [0, 1, 1],
      'the declared attempt is left as the record says',
    );
    assert.deepEqual([result.retries, result.latencyMs], [1, 300]);
    assert.equal(c.stats().retries, 1);
  });

  test('a retry after a failed answer still counts as a retry', () => {
    const c = new Correlator(options);
    const failed = event('error', T0 + 10, { taskId: 't' });
    const again = event('request', T0 + 20, { taskId: 't' });
    c.process([event('request', T0, { taskId: 't' }), failed, again], T0 + 20);
    assert.equal(again.retries, 1);
  });

  test('the same request record read twice (a redelivery to agentwatch) is not a retry', () => {
    const c = new Correlator(options);
    const request = event('request', T0, { taskId: 't' });
    c.process([request], T0);
    const redelivered = { ...request, retries: 0 };
    c.process([redelivered], T0);
    assert.equal(redelivered.retries, 0);
    assert.deepEqual([c.stats().retries, c.stats().redeliveries], [0, 1]);
  });

  test('a request unanswered past the TTL of event time times out once; a late answer is flagged', () => {
    const c = new Correlator(options);
    c.process([event('request', T0, { taskId: 'slow', workflowId: 'wf' })], T0);
    assert.deepEqual(c.process([], T0 + 59_999), []);
    const timeouts = c.process([], T0 + 60_000);
    assert.equal(timeouts.length, 1);
    assert.deepEqual(
      [timeouts[0]!.taskId, timeouts[0]!.workflowId, timeouts[0]!.expiredAt],
      ['slow', 'wf', T0 + 60_000],
    );
    assert.deepEqual(c.process([], T0 + 120_000), [], 'a timeout is reported once');
    const late = event('result', T0 + 90_000, { taskId: 'slow' });
    c.process([late], T0 + 120_000);
    assert.deepEqual([late.timedOut, late.latencyMs], [true, 90_000]);
    assert.equal(c.stats().lateAnswers, 1);
  });

  test('a second answer to the same task is counted as a duplicate once no retry has taken it within the TTL', () => {
    const c = new Correlator(options);
    c.process(
      [
        event('request', T0, { taskId: 't' }),
        event('result', T0 + 1, { taskId: 't' }),
        event('result', T0 + 2, { taskId: 't' }),
      ],
      T0 + 2,
    );
    assert.deepEqual(
      [c.stats().duplicateAnswers, c.stats().pendingAnswers],
      [0, 1],
      'it may answer a retry not read yet',
    );
    c.process([], T0 + 2 + 60_000);
    assert.deepEqual([c.stats().duplicateAnswers, c.stats().pendingAnswers, c.stats().orphanAnswers], [1, 0, 0]);
    c.process([event('result', T0 + 2, { taskId: 't' })], T0 + 2 + 60_000);
    assert.equal(c.stats().duplicateAnswers, 2, 'an answer no later than the one the task got is a duplicate at once');
  });

  test('regression: a failed attempt and its retry, both answers read before either request, pair in order', () => {
    // Found in the demo: the retry's result replaced the error under the task id, so the first
    // request took it (a latency spanning both attempts) and the error answered nothing.
    const c = new Correlator(options);
    const { first, failed, retry, result } = failedThenRetried();
    c.process([failed, result], T0 + 610);
    c.process([first, retry], T0 + 610);
    assert.deepEqual([first.latencyMs, retry.latencyMs, retry.retries], [135, 250, 1]);
    assert.deepEqual(c.process([], T0 + 1_000_000), [], 'nothing times out');
    assert.deepEqual([c.stats().pendingAnswers, c.stats().orphanAnswers, c.stats().duplicateAnswers], [0, 0, 0]);
  });

  test('regression: the answer to a retry read before the retry itself pairs with it instead of counting as a duplicate', () => {
    // Found in the demo: the retry then waited in flight for an answer already read, and timed out.
    const c = new Correlator(options);
    const { first, failed, retry, result } = failedThenRetried();
    c.process([first, failed, result], T0 + 610);
    c.process([retry], T0 + 610);
    assert.deepEqual([failed.latencyMs, retry.latencyMs, retry.retries], [135, 250, 1]);
    assert.deepEqual(c.process([], T0 + 1_000_000), [], 'the retry does not time out');
    assert.deepEqual([c.stats().pendingAnswers, c.stats().duplicateAnswers, c.stats().timeouts], [0, 0, 0]);
  });

  test("regression: a retry read before the failed attempt's error: the error answers the first attempt, the result the retry", () => {
    // Found in the demo: the error answered the retry (latency 0) and the retry's result became a duplicate.
    const c = new Correlator(options);
    const { first, failed, retry, result } = failedThenRetried();
    c.process([first, retry, failed, result], T0 + 610);
    assert.deepEqual([failed.latencyMs, failed.retries, result.latencyMs, result.retries], [135, 0, 250, 1]);
    assert.deepEqual(c.process([], T0 + 1_000_000), [], 'nothing times out');
    assert.deepEqual([c.stats().answered, c.stats().duplicateAnswers, c.stats().pendingAnswers], [2, 0, 0]);
  });

  test('A2A: answers filed under a task id and a JSON-RPC id leave both queues when taken', () => {
    const c = new Correlator(options);
    const failed = event('error', T0 + 100, { taskId: 't', rpcId: '1' });
    const result = event('result', T0 + 400, { taskId: 't', rpcId: '2' });
    c.process([failed, result], T0 + 400);
    const first = event('request', T0, { taskId: 't', rpcId: '1', method: 'SendMessage' });
    const retry = event('request', T0 + 200, { taskId: 't', rpcId: '2', method: 'SendMessage' });
    c.process([first, retry], T0 + 400);
    assert.deepEqual([first.latencyMs, retry.latencyMs], [100, 200]);
    assert.equal(c.stats().pendingAnswers, 0);
  });

  test('status updates do not answer; a terminal status does; GetTask opens nothing', () => {
    const c = new Correlator(options);
    const working = event('status', T0 + 5, { taskId: 't', state: 'working' });
    const done = event('status', T0 + 8, { taskId: 't', state: 'canceled' });
    c.process(
      [event('request', T0, { taskId: 't' }), working, done, event('request', T0, { taskId: 'g', method: 'GetTask' })],
      T0 + 8,
    );
    assert.deepEqual([working.latencyMs, done.latencyMs], [null, 8]);
    assert.equal(c.stats().inFlight, 0);
  });

  test('the in-flight table is capped: the oldest is evicted and counted', () => {
    const c = new Correlator({ ...options, maxInFlight: 10 });
    c.process(
      Array.from({ length: 15 }, (_, i) => event('request', T0 + i, { taskId: `t${i}` })),
      T0,
    );
    assert.deepEqual([c.stats().inFlight, c.stats().evictions], [10, 5]);
    const late = event('result', T0 + 100, { taskId: 't0' });
    c.process([late], T0 + 100);
    assert.equal(late.latencyMs, 100, 'an evicted task is still recognised while it is remembered');
  });

  test('memory stays bounded with 1,000,000 distinct unanswered task ids', () => {
    const cap = 100_000;
    const c = new Correlator({ taskTtlMs: 3_600_000, maxInFlight: cap, maxRecent: cap });
    const batchSize = 10_000;
    let heapAtCap = 0;
    for (let b = 0; b < 100; b += 1) {
      const batch = Array.from({ length: batchSize }, (_, i) =>
        event('request', T0 + b * batchSize + i, { taskId: `task-${b * batchSize + i}` }),
      );
      c.process(batch, T0);
      if (b === 19) heapAtCap = liveHeap(); // 200,000 requests: both tables full
    }
    const stats = c.stats();
    assert.equal(stats.requests, 1_000_000);
    assert.equal(stats.inFlight, cap);
    assert.equal(stats.evictions, 1_000_000 - cap);
    assert.equal(stats.recentEvictions, 1_000_000 - 2 * cap);
    // Past the cap, the next 800,000 ids add no lasting memory.
    const growth = liveHeap() - heapAtCap;
    assert.ok(growth < 16 * 1024 * 1024, `heap grew by ${Math.round(growth / 1048576)} MB after the tables were full`);
  });
});

describe('Correlator timeouts', () => {
  test('fire in deadline order, whatever order the requests were read in (a backlog read partition by partition)', () => {
    const correlator = new Correlator(options);
    // Partition 1 is read ahead of partition 0: its later requests come first.
    correlator.process(
      [event('request', T0 + 30_000, { taskId: 'late-1' }), event('request', T0 + 40_000, { taskId: 'late-2' })],
      Number.NEGATIVE_INFINITY,
    );
    correlator.process(
      [event('request', T0, { taskId: 'early-1' }), event('request', T0 + 10_000, { taskId: 'early-2' })],
      Number.NEGATIVE_INFINITY,
    );
    const first = correlator.process([], T0 + 60_000 + 15_000);
    assert.deepEqual(
      first.map((t) => t.taskId),
      ['early-1', 'early-2'],
      'both early tasks are due although read after tasks that are not',
    );
    const rest = correlator.process([], T0 + 60_000 + 50_000);
    assert.deepEqual(
      rest.map((t) => [t.taskId, t.expiredAt - T0]),
      [
        ['late-1', 90_000],
        ['late-2', 100_000],
      ],
    );
    assert.equal(correlator.stats().inFlight, 0);
  });

  test('an answered or retried task does not time out through its earlier deadline', () => {
    const correlator = new Correlator(options);
    correlator.process([event('request', T0, { taskId: 'a' }), event('request', T0, { taskId: 'b' })], T0);
    correlator.process(
      [event('result', T0 + 100, { taskId: 'a' }), event('request', T0 + 30_000, { taskId: 'b', attempt: 2 })],
      T0 + 30_000,
    );
    assert.deepEqual(correlator.process([], T0 + 60_000), [], 'a was answered; b was retried, its deadline moved');
    assert.deepEqual(
      correlator.process([], T0 + 90_000).map((t) => [t.taskId, t.attempts]),
      [['b', 2]],
    );
  });

  test('a task that takes the table slot of an answered task with the same deadline times out once, with its own fields', () => {
    const correlator = new Correlator(options);
    correlator.process([event('request', T0, { taskId: 'a', workflowId: 'wa' })], T0);
    // a is answered: its slot is freed while its deadline entry stays queued; b takes the slot, same deadline.
    correlator.process(
      [event('result', T0 + 10, { taskId: 'a' }), event('request', T0, { taskId: 'b', workflowId: 'wb' })],
      T0 + 10,
    );
    const timeouts = correlator.process([], T0 + 60_000);
    assert.deepEqual(
      timeouts.map((t) => [t.taskId, t.workflowId, t.requestedAt, t.expiredAt]),
      [['b', 'wb', T0, T0 + 60_000]],
    );
    assert.deepEqual(correlator.process([], T0 + 120_000), []);
    assert.equal(correlator.stats().timeouts, 1);
  });

  test('records marked with a clock skew are left out of correlation', () => {
    const correlator = new Correlator(options);
    correlator.process(
      [
        event('request', Date.UTC(2100, 0, 1), { taskId: 'future', clockSkew: 'ahead' }),
        event('request', 0, { taskId: 'past', clockSkew: 'behind' }),
      ],
      T0,
    );
    assert.equal(correlator.stats().requests, 0);
    assert.deepEqual(correlator.process([], T0 + 3_600_000), []);
  });
});
