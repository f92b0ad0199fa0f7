// The events file's line for an event: the same whether the event was decoded on the main thread
// (its body kept) or on an ingest worker (no body, and an audit row tail that is not written).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventForJson } from '../../../src/audit/ndjson-file-sink.js';
import { RecordDecoder, type KafkaRecord } from '../../../src/decode/index.js';

test('an event decoded on a worker gives the same JSON as one decoded on the main thread', async () => {
  const record: KafkaRecord = {
    topic: 'agent.tasks.x',
    partition: 0,
    offset: '7',
    timestamp: 1,
    key: 'wf',
    headers: Object.create(null) as Record<string, string>,
    value: Buffer.from('{"task_id": "t", "nested": {"a": [1, 2]}}'),
  };
  const decoder = new RecordDecoder({ schemaById: async () => undefined }, { maxPayloadBytes: 1 << 20 });
  const [onMain] = await decoder.decode([record]);
  const onWorker = { ...onMain!, body: null, auditRowTail: Buffer.from([1, 2, 3]) };
  const line = eventForJson(onMain!);
  assert.deepEqual(line.body, { task_id: 't', nested: { a: [1, 2] } });
  assert.equal('auditRowTail' in line, false, 'the row tail is not an event field for the file');
  assert.deepEqual(eventForJson(onWorker), line);
});
