// A window keeps its most notable tasks as the alert's examples: timeouts, then failures, retries,
// the slowest answered tasks; any task when nothing stands out. At most MAX_EXAMPLES, one per task.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TaskTimeout } from '../../../src/correlate/index.js';
import type { AgentEvent } from '../../../src/decode/index.js';
import { MAX_EXAMPLES } from '../../../src/detect/index.js';
import { WindowAccumulator } from '../../../src/detect/window-accumulator.js';

function event(taskId: string, fields: Partial<AgentEvent> = {}): AgentEvent {
  return {
    topic: 'agent.results.x',
    partition: 0,
    offset: '0',
    timestamp: 0,
    key: null,
    headers: {},
    producer: 'x',
    capability: 'x',
    workflowId: `wf-${taskId}`,
    taskId,
    messageId: null,
    contextId: null,
    rpcId: null,
    method: null,
    step: null,
    kind: 'result',
    state: 'completed',
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
    ...fields,
  };
}

test('examples: timeouts, failures, retries, then the slowest; at most MAX_EXAMPLES, each task once', () => {
  const window = new WindowAccumulator();
  for (let i = 0; i < 50; i += 1) window.addEvent(event(`fast-${i}`, { latencyMs: 100 + i }));
  window.addEvent(event('slowest', { latencyMs: 9_000 }));
  window.addEvent(event('failed', { kind: 'error', state: 'failed', latencyMs: 50 }));
  window.addEvent(event('retried', { kind: 'request', state: null, retries: 2 }));
  window.addTimeout({ taskId: 'lost', workflowId: 'wf-lost' } as TaskTimeout);
  window.addEvent(event('slowest', { latencyMs: 9_500 })); // the same task again: kept once, at its best
  const examples = window.takeExamples();
  assert.equal(examples.length, MAX_EXAMPLES);
  assert.deepEqual(
    examples.map((e) => [e.taskId, e.reason]),
    [
      ['lost', 'timed-out'],
      ['failed', 'failed'],
      ['retried', 'retried'],
      ['slowest', 'slow'],
      ['fast-49', 'slow'],
    ],
  );
  assert.equal(examples[3]!.latencyMs, 9_500);
  assert.deepEqual(window.takeExamples(), [], 'handed over once');
});

test('examples of a quiet window: whatever tasks it saw', () => {
  const window = new WindowAccumulator();
  window.addEvent(event('a', { kind: 'request', state: null }));
  window.addEvent(event('b', { kind: 'request', state: null }));
  window.addEvent(event('no-ids', { taskId: null, workflowId: null }));
  assert.deepEqual(
    window.takeExamples().map((e) => [e.taskId, e.reason]),
    [
      ['a', 'seen'],
      ['b', 'seen'],
    ],
  );
});
