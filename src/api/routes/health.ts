// Liveness and readiness, without authentication (they reveal only up/down), and Prometheus metrics
// (role sre unless API_METRICS_PUBLIC).

import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api-context.js';

const readiness = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    checks: { type: 'object', additionalProperties: { type: 'boolean' } },
    reasons: { type: 'array', items: { type: 'string' } },
  },
} as const;

export function healthRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is up',
        tags: ['health'],
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
      },
    },
    async () => ({ ok: true }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        summary:
          'Kafka and ClickHouse answer, and no partition has been stuck on a failing step for INGEST_STALL_UNREADY_MS',
        tags: ['health'],
        response: { 200: readiness, 503: readiness },
      },
    },
    async (_request, reply) => {
      const { checks, reasons } = await context.readiness();
      const ok = Object.values(checks).every(Boolean);
      return reply.code(ok ? 200 : 503).send({ ok, checks, reasons });
    },
  );
  app.get(
    '/metrics',
    {
      config: context.config.metricsPublic ? {} : { roles: ['sre'] },
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['health'],
        produces: ['text/plain'],
        response: { 200: { type: 'string' } },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await context.metrics();
      return reply.type(contentType).send(body);
    },
  );
}
