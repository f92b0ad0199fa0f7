// One workflow's timeline (role auditor): all its events in time order, with latencies and retries.

import type { FastifyInstance } from 'fastify';
import { workflowTimeline } from '../../audit/index.js';
import type { ApiContext } from '../api-context.js';
import { auditRecordSchema, errorResponses } from '../schemas.js';

export function workflowRoutes(app: FastifyInstance, context: ApiContext): void {
  const { clickhouse, config } = context;
  app.get<{ Params: { workflowId: string }; Querystring: { limit?: number } }>(
    '/v1/workflows/:workflowId/timeline',
    {
      config: { roles: ['auditor'] },
      schema: {
        summary: "One workflow's events in time order, with a summary of its tasks, latencies and retries",
        tags: ['audit'],
        params: {
          type: 'object',
          properties: { workflowId: { type: 'string', minLength: 1, maxLength: 512 } },
          required: ['workflowId'],
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: config.maxPageRows, default: config.maxPageRows },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              workflowId: { type: 'string' },
              summary: {
                type: 'object',
                properties: {
                  events: { type: 'integer' },
                  tasks: { type: 'integer' },
                  retries: { type: 'integer' },
                  timedOut: { type: 'integer' },
                  maxLatencyMs: { type: ['integer', 'null'] },
                },
              },
              truncated: { type: 'boolean' },
              records: { type: 'array', items: auditRecordSchema },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { workflowId } = request.params;
      const { records, truncated } = await workflowTimeline(
        clickhouse,
        workflowId,
        request.query.limit ?? config.maxPageRows,
        { timeoutMs: config.queryTimeoutMs, maxRows: config.maxPageRows + 1 },
      );
      const latencies = records.map((r) => r.latency_ms).filter((l): l is number => l !== null);
      return {
        workflowId,
        summary: {
          events: records.length,
          tasks: new Set(records.filter((r) => r.task_id !== '').map((r) => r.task_id)).size,
          retries: records.filter((r) => r.kind === 'request' && r.retries > 0).length,
          // A task that timed out: its request (the TTL ran out) and a late answer both say so.
          timedOut: new Set(
            records
              .filter((r) => r.timed_out)
              .map((r) => (r.task_id !== '' ? r.task_id : `${r.topic}:${r.partition}:${r.offset}`)),
          ).size,
          maxLatencyMs: latencies.length === 0 ? null : Math.max(...latencies),
        },
        truncated,
        records,
      };
    },
  );
}
