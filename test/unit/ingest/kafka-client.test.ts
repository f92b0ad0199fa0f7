// kafkajs reports an out-of-range offset reset only as a log line: the log handler tells the
// listener which group's partition was reset, and logs the line as before.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logLevel, type LogEntry } from 'kafkajs';
import { kafkaLogHandler, type OffsetResetListener } from '../../../src/ingest/kafka-client.js';
import { createLogger } from '../../../src/logger.js';

function entry(message: string, fields: Record<string, unknown>): LogEntry {
  return {
    namespace: 'ConsumerGroup',
    level: logLevel.ERROR,
    label: 'ERROR',
    log: { timestamp: '2026-12-03T00:00:00.000Z', message, ...fields },
  };
}

test('an out-of-range reset is told to the listener with its group, topic and partition; other lines are not', () => {
  const heard: Array<Parameters<OffsetResetListener>[0]> = [];
  const handle = kafkaLogHandler(createLogger('fatal'), (at) => heard.push(at));
  const reset = 'Offset out of range, resetting to default offset';
  handle(entry(reset, { groupId: 'agentwatch', topic: 'agent.tasks.x', partition: 2, memberId: 'm' }));
  handle(entry(reset, { groupId: 'agentwatch-alerts', topic: 'agent.anomalies', partition: 0 }));
  handle(
    entry('Offset out of range while fetching from follower, retrying with leader', {
      groupId: 'g',
      topic: 't',
      partition: 1,
    }),
  );
  handle(entry(reset, { topic: 'agent.tasks.x', partition: 2 })); // no group: not a consumer's
  handle(entry('Response Fetch(key: 1, version: 11)', { error: 'The requested offset is not within the range' }));
  assert.deepEqual(heard, [
    { groupId: 'agentwatch', topic: 'agent.tasks.x', partition: 2 },
    { groupId: 'agentwatch-alerts', topic: 'agent.anomalies', partition: 0 },
  ]);
});
