// JSON schemas shared by the routes: they validate requests (unknown parameters are a 400), serialise
// responses, and make up the OpenAPI document.

import { EVENT_KINDS, TASK_STATES } from '../decode/index.js';

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

/** A route that takes no query parameters: any is a 400, as on the others (none is silently ignored). */
export const NO_PARAMETERS = { type: 'object', properties: {}, additionalProperties: false } as const;

export const errorResponses = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 500: errorSchema } as const;

const text = { type: 'string', minLength: 1, maxLength: 512 } as const;

export const auditFilterProperties = {
  workflowId: { ...text, description: 'workflow id' },
  taskId: { ...text, description: 'A2A task id (a2a.task.id)' },
  producer: { ...text, description: 'the agent that produced the record, as it names itself (else the capability)' },
  capability: { ...text, description: 'task type / capability' },
  topic: { ...text, description: 'Kafka topic' },
  kind: { type: 'string', enum: [...EVENT_KINDS] },
  state: { type: 'string', enum: [...TASK_STATES] },
  from: { type: 'string', format: 'date-time', description: 'record time, inclusive (RFC 3339)' },
  to: { type: 'string', format: 'date-time', description: 'record time, exclusive (RFC 3339)' },
} as const;

const auditRecordProperties = {
  ts: { type: 'string', format: 'date-time' },
  topic: { type: 'string' },
  partition: { type: 'integer' },
  offset: { type: 'string' },
  producer: { type: 'string' },
  capability: { type: 'string' },
  workflow_id: { type: 'string' },
  task_id: { type: 'string' },
  message_id: { type: 'string' },
  context_id: { type: 'string' },
  rpc_id: { type: 'string' },
  method: { type: 'string' },
  step: { type: 'string' },
  kind: { type: 'string' },
  state: { type: 'string' },
  error_type: { type: 'string' },
  attempt: { type: 'integer' },
  payload_bytes: { type: 'integer' },
  encoding: { type: 'string' },
  schema_id: { type: ['integer', 'null'] },
  parse_error: { type: 'string' },
  dlq_reason: { type: 'string' },
  latency_ms: { type: ['integer', 'null'] },
  retries: { type: 'integer' },
  timed_out: { type: 'boolean' },
  key: { type: 'string' },
  headers: { type: 'object', additionalProperties: { type: 'string' } },
  payload: { type: 'string' },
  payload_encoding: { type: 'string' },
  hash: { type: 'string' },
} as const;

export const auditRecordSchema = {
  type: 'object',
  properties: auditRecordProperties,
  // Every field, so that a field the queries return but this schema misses fails loudly instead of
  // being dropped by the serializer (a test compares the two).
  required: Object.keys(auditRecordProperties) as Array<keyof typeof auditRecordProperties>,
} as const;

/** RFC 3339 text → ms; the schema has already checked the format. */
export function millis(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Date.parse(value);
}
