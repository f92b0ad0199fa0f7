import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import avro from 'avsc';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  EMPTY_REASON,
  RecordDecoder,
  TOMBSTONE_REASON,
  type RegisteredSchema,
  type SchemaSource,
} from '../../../src/decode/index.js';
import { confluentFrame, record } from '../../fixtures/records.js';

const envelopeSchema = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../../schemas/a2a-envelope.avsc', import.meta.url)), 'utf8'),
) as avro.Schema;
const envelopeType = avro.Type.forSchema(envelopeSchema);

// A schema source over a fixed table: stands in for the registry in these pure decoding tests (the
// real registry is exercised by the integration tests).
function schemas(table: Record<number, RegisteredSchema>): SchemaSource & { asked: number[] } {
  const asked: number[] = [];
  return {
    asked,
    schemaById: async (id) => {
      asked.push(id);
      return table[id];
    },
  };
}

const decoder = new RecordDecoder(schemas({ 7: { format: 'avro', type: envelopeType } }), { maxPayloadBytes: 4096 });
const one = async (r: Parameters<RecordDecoder['decodeRecord']>[0]) => (await decoder.decode([r]))[0]!;

describe('the task envelope (JSON)', () => {
  test('a dispatched task is a request for the topic capability', async () => {
    const event = await one(
      record('agent.tasks.summarize', {
        workflow_id: 'wf-9',
        task_type: 'summarize',
        payload: { text: 'x' },
        a2a_version: '1.0',
        task_id: 't-1',
      }),
    );
    assert.equal(event.encoding, 'json');
    assert.equal(event.kind, 'request');
    assert.equal(event.capability, 'summarize');
    assert.equal(event.producer, 'summarize');
    assert.equal(event.workflowId, 'wf-9');
    assert.equal(event.taskId, 't-1');
    assert.equal(event.parseError, null);
    assert.equal(event.payloadBytes, event.value?.length);
  });

  test('a result and an error answer it', async () => {
    const result = await one(record('agent.results.summarize', { workflow_id: 'wf-9', result: 'short' }));
    assert.equal(result.kind, 'result');
    assert.equal(result.state, 'completed');
    const error = await one(record('agent.results.summarize', { workflow_id: 'wf-9', error: { type: 'Timeout' } }));
    assert.equal(error.kind, 'error');
    assert.equal(error.state, 'failed');
    assert.equal(error.errorType, 'Timeout');
  });

  test('attempt comes from a2a-attempt, or from a 0-based retry-count; the producer from agent-id', async () => {
    const a = await one(
      record('agent.tasks.x', { workflow_id: 'w', task_type: 'x', payload: {} }, { headers: { 'a2a-attempt': '3' } }),
    );
    assert.equal(a.attempt, 3);
    const b = await one(
      record(
        'agent.tasks.x',
        { workflow_id: 'w', task_type: 'x', payload: {} },
        { headers: { 'retry-count': '2', 'agent-id': 'dispatcher-1' } },
      ),
    );
    assert.equal(b.attempt, 3);
    assert.equal(b.producer, 'dispatcher-1');
  });
});

describe('A2A JSON-RPC', () => {
  test('v0.3 message/send is a SendMessage request carrying the message ids', async () => {
    const event = await one(
      record('agent.tasks.classify', {
        jsonrpc: '2.0',
        id: 42,
        method: 'message/send',
        params: {
          message: {
            kind: 'message',
            role: 'user',
            messageId: 'm-1',
            contextId: 'c-1',
            taskId: 't-7',
            parts: [{ kind: 'text', text: 'hi' }],
            metadata: { workflowId: 'wf-3' },
          },
        },
      }),
    );
    assert.equal(event.encoding, 'a2a-jsonrpc');
    assert.equal(event.kind, 'request');
    assert.equal(event.method, 'SendMessage');
    assert.equal(event.rpcId, '42');
    assert.equal(event.taskId, 't-7');
    assert.equal(event.contextId, 'c-1');
    assert.equal(event.messageId, 'm-1');
    assert.equal(event.workflowId, 'wf-3');
  });

  test('older tasks/send and v0.3 tasks/get are normalised to v1.0 method names', async () => {
    assert.equal(
      (
        await one(
          record('agent.tasks.x', {
            jsonrpc: '2.0',
            id: 1,
            method: 'tasks/send',
            params: { id: 't', message: { role: 'user', parts: [] } },
          }),
        )
      ).method,
      'SendMessage',
    );
    const get = await one(
      record('agent.tasks.x', { jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { id: 't-5' } }),
    );
    assert.equal(get.method, 'GetTask');
    assert.equal(get.taskId, 't-5');
  });

  test('a completed Task answers, a working status-update does not', async () => {
    const done = await one(
      record('agent.results.x', {
        jsonrpc: '2.0',
        id: 1,
        result: { kind: 'task', id: 't-1', contextId: 'c', status: { state: 'completed' } },
      }),
    );
    assert.deepEqual([done.kind, done.state, done.taskId, done.rpcId], ['result', 'completed', 't-1', '1']);
    const working = await one(
      record('agent.results.x', {
        jsonrpc: '2.0',
        id: 1,
        result: { kind: 'status-update', taskId: 't-1', contextId: 'c', status: { state: 'working' }, final: false },
      }),
    );
    assert.deepEqual([working.kind, working.state], ['status', 'working']);
  });

  test('v1.0 responses wrap the Task and spell states TASK_STATE_*', async () => {
    const event = await one(
      record('agent.results.x', {
        jsonrpc: '2.0',
        id: 'r1',
        result: { task: { id: 't-2', contextId: 'c', status: { state: 'TASK_STATE_FAILED' } } },
      }),
    );
    assert.deepEqual([event.kind, event.state, event.taskId], ['result', 'failed', 't-2']);
    const update = await one(
      record('agent.results.x', {
        jsonrpc: '2.0',
        id: 'r1',
        result: { statusUpdate: { taskId: 't-2', contextId: 'c', status: { state: 'TASK_STATE_WORKING' } } },
      }),
    );
    assert.deepEqual([update.kind, update.state], ['status', 'working']);
  });

  test('a JSON-RPC error is an error event with error.type = the code', async () => {
    const event = await one(
      record('agent.results.x', { jsonrpc: '2.0', id: 9, error: { code: -32001, message: 'Task not found' } }),
    );
    assert.deepEqual([event.kind, event.state, event.errorType, event.rpcId], ['error', 'failed', '-32001', '9']);
  });
});

describe('Confluent-framed Avro', () => {
  test('decodes with the registered schema and reads the envelope fields', async () => {
    const value = confluentFrame(
      7,
      envelopeType.toBuffer({
        workflow_id: 'wf-a',
        task_type: 'extract',
        task_id: 't-a',
        payload: '{}',
        a2a_version: '1.0',
      }),
    );
    const event = await one(record('agent.tasks.extract', value));
    assert.equal(event.encoding, 'avro');
    assert.equal(event.schemaId, 7);
    assert.deepEqual([event.kind, event.workflowId, event.taskId], ['request', 'wf-a', 't-a']);
  });

  test('each schema id is asked for once, across batches', async () => {
    const source = schemas({ 7: { format: 'avro', type: envelopeType } });
    const d = new RecordDecoder(source, { maxPayloadBytes: 4096 });
    const value = confluentFrame(
      7,
      envelopeType.toBuffer({ workflow_id: 'w', task_type: 'x', task_id: null, payload: '{}', a2a_version: '1.0' }),
    );
    await d.decode([record('agent.tasks.x', value), record('agent.tasks.x', value)]);
    await d.decode([record('agent.tasks.x', value)]);
    assert.deepEqual(source.asked, [7]);
  });
});

describe('records that cannot be decoded still yield one event each', () => {
  test('garbage of every kind becomes an opaque event with a parseError and a DLQ reason', async () => {
    const cases: Array<[string, Buffer | string, string]> = [
      ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b, 0x80]), 'invalid-utf8'],
      ['invalid JSON', '{"workflow_id": ', 'invalid-json'],
      ['unknown schema id', confluentFrame(99, Buffer.from([1, 2, 3])), 'unknown-schema'],
      ['truncated Avro', confluentFrame(7, Buffer.from([0x02])), 'avro-decode-failed'],
      ['oversized', 'x'.repeat(5000), 'oversized'],
    ];
    const events = await decoder.decode(cases.map(([, value]) => record('agent.tasks.x', value)));
    assert.equal(events.length, cases.length);
    events.forEach((event, i) => {
      const [name, , reason] = cases[i]!;
      assert.equal(event.encoding, 'opaque', name);
      assert.equal(event.dlqReason, reason, name);
      assert.ok(event.parseError !== null && event.parseError.length > 0, name);
      assert.equal(event.kind, 'unknown', name);
    });
  });

  test('a parse error never quotes the payload', async () => {
    const values = ['{"api_key": "sk-live-SECRET", oops}', '{"password": "SECRET"', 'SECRET', '{"a": SECRET}'];
    const events = await decoder.decode(values.map((value) => record('agent.tasks.x', value)));
    for (const event of events) {
      assert.equal(event.dlqReason, 'invalid-json');
      assert.doesNotMatch(event.parseError!, /SECRET|api_key|password/, event.parseError!);
      assert.match(event.parseError!, /^value is not valid JSON/);
    }
  });

  test('a tombstone and an empty value have encodings and reasons of their own, not DLQ cases; JSON that is not an object is json/unknown', async () => {
    const [tombstone, empty, number] = await decoder.decode([
      record('agent.tasks.x', null),
      record('agent.tasks.x', ''),
      record('agent.tasks.x', '42'),
    ]);
    assert.deepEqual(
      [tombstone!.encoding, tombstone!.dlqReason, tombstone!.payloadBytes, tombstone!.parseError],
      ['tombstone', null, 0, TOMBSTONE_REASON],
    );
    assert.deepEqual(
      [empty!.encoding, empty!.dlqReason, empty!.payloadBytes, empty!.parseError],
      ['empty', null, 0, EMPTY_REASON],
    );
    assert.deepEqual([number!.encoding, number!.kind, number!.dlqReason], ['json', 'unknown', null]);
  });

  test('a registry that cannot be asked rejects the batch (retryable) instead of marking records undecodable', async () => {
    const down = new RecordDecoder(
      {
        schemaById: async () => {
          throw new Error('ECONNREFUSED');
        },
      },
      { maxPayloadBytes: 4096 },
    );
    await assert.rejects(down.decode([record('agent.tasks.x', confluentFrame(5, Buffer.from([0])))]), /ECONNREFUSED/);
  });
});
