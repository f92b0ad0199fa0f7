// Liveness and readiness, without authentication (they reveal only up/down), and Prometheus metrics
// (role sre unless API_METRICS_PUBLIC).

import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api-context.js';

export function healthRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/healthz', { schema: { summary: 'The process is up', tags: ['health'], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));
  app.get('/readyz', {
    schema: {
      summary: 'Kafka and ClickHouse answer',
      tags: ['health'],
      response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } } }, 503: { type: 'object', properties: { ok: { type: 'boolean' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } } } },
    },
  }, async (_request, reply) => {
    const checks = await context.readiness();
    const ok = Object.values(checks).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ ok, checks });
  });
  app.get('/metrics', {
    config: context.config.metricsPublic ? {} : { roles: ['sre'] },
    schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['health'], produces: ['text/plain'], response: { 200: { type: 'string' } } },
  }, async (_request, reply) => {
    const { contentType, body } = await context.metrics();
    return reply.type(contentType).send(body);
  });
}
