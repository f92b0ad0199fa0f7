// SRE routes (role sre): alerts from the anomalies table, and the agents' current windows and baselines.

import type { FastifyInstance } from 'fastify';
import { searchAnomalies } from '../../audit/index.js';
import type { ApiContext } from '../api-context.js';
import { errorResponses, millis } from '../schemas.js';

export function fleetRoutes(app: FastifyInstance, context: ApiContext): void {
  const { clickhouse, config } = context;
  app.get<{ Querystring: { agent?: string; state?: 'FIRING' | 'RESOLVED'; from?: string; to?: string; limit?: number } }>('/v1/anomalies', {
    config: { roles: ['sre'] },
    schema: {
      summary: 'Alerts, newest window first',
      tags: ['fleet'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          agent: { type: 'string', minLength: 1, maxLength: 512 }, state: { type: 'string', enum: ['FIRING', 'RESOLVED'] },
          from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' },
          limit: { type: 'integer', minimum: 1, maximum: config.maxPageRows, default: Math.min(100, config.maxPageRows) },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            anomalies: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  alert_id: { type: 'string' }, agent: { type: 'string' }, state: { type: 'string' }, severity: { type: 'string' },
                  onset: { type: 'string' }, window_start: { type: 'string' }, window_end: { type: 'string' },
                  score: { type: 'number' }, threshold: { type: 'number' }, p_value: { type: 'number' },
                  features: { type: 'array', items: { type: 'object', additionalProperties: true } },
                },
              },
            },
          },
        },
        ...errorResponses,
      },
    },
  }, async (request) => {
    const { agent, state, from, to, limit = 100 } = request.query;
    return { anomalies: await searchAnomalies(clickhouse, { agent, state, from: millis(from), to: millis(to) }, limit, { timeoutMs: config.queryTimeoutMs, maxRows: limit }) };
  });

  app.get('/v1/agents', {
    config: { roles: ['sre'] },
    schema: {
      summary: "Every agent's last scored window, its baseline per feature, and whether an alert is firing",
      tags: ['fleet'],
      response: { 200: { type: 'object', properties: { agents: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...errorResponses },
    },
  }, async () => ({ agents: context.agents() }));

  app.get('/v1/findings/clock-skew', {
    config: { roles: ['sre'] },
    schema: {
      summary: 'Producers whose records carry timestamps no clock explains (far ahead of the clock, or far behind event time): audited, but kept out of correlation, detection and the event clock',
      tags: ['fleet'],
      response: {
        200: {
          type: 'object',
          properties: {
            findings: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  kind: { type: 'string', enum: ['clock_skew'] }, producer: { type: 'string' }, topic: { type: 'string' },
                  ahead: { type: 'integer' }, behind: { type: 'integer' },
                  last: {
                    type: 'object',
                    properties: { partition: { type: 'integer' }, offset: { type: 'string' }, timestamp: { type: 'string' }, skew: { type: 'string' }, seen_at: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
        ...errorResponses,
      },
    },
  }, async () => ({
    findings: context.clockFindings().map((f) => ({
      ...f,
      last: { partition: f.last.partition, offset: f.last.offset, timestamp: isoOrNumber(f.last.timestamp), skew: f.last.skew, seen_at: new Date(f.last.seenAt).toISOString() },
    })),
  }));
}

/** A record timestamp as ISO 8601 where Date can show it (years 0–9999 in practice), else the raw number. */
function isoOrNumber(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}
