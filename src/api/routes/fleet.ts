// SRE routes (role sre): alerts from the anomalies table, and the agents' current windows and baselines.

import type { FastifyInstance } from 'fastify';
import { readAcks, searchAnomalies } from '../../audit/index.js';
import type { ApiContext } from '../api-context.js';
import { sendError } from '../api-errors.js';
import { NO_PARAMETERS, errorResponses, millis } from '../schemas.js';

export function fleetRoutes(app: FastifyInstance, context: ApiContext): void {
  const { clickhouse, config } = context;
  app.get<{
    Querystring: { agent?: string; state?: 'FIRING' | 'RESOLVED'; from?: string; to?: string; limit?: number };
  }>(
    '/v1/anomalies',
    {
      config: { roles: ['sre'] },
      schema: {
        summary: 'Alerts, newest window first',
        tags: ['fleet'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            agent: { type: 'string', minLength: 1, maxLength: 512 },
            state: { type: 'string', enum: ['FIRING', 'RESOLVED'] },
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: config.maxPageRows,
              default: Math.min(100, config.maxPageRows),
            },
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
                    alert_id: { type: 'string' },
                    agent: { type: 'string' },
                    capability: { type: 'string' },
                    scope: { type: 'string' },
                    kind: { type: 'string' },
                    resolution: { type: ['string', 'null'] },
                    accepted_by: { type: ['string', 'null'] },
                    state: { type: 'string' },
                    severity: { type: 'string' },
                    onset: { type: 'string' },
                    window_start: { type: 'string' },
                    window_end: { type: 'string' },
                    score: { type: 'number' },
                    threshold: { type: 'number' },
                    p_value: { type: 'number' },
                    features: { type: 'array', items: { type: 'object', additionalProperties: true } },
                    silenced_by: { type: ['string', 'null'], description: 'the silence that matched at publication' },
                    acks: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: { by: { type: 'string' }, at: { type: 'string' }, comment: { type: 'string' } },
                      },
                    },
                    examples: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: {
                          taskId: { type: ['string', 'null'] },
                          workflowId: { type: ['string', 'null'] },
                          reason: { type: 'string' },
                          latencyMs: { type: ['number', 'null'] },
                          timeline: { type: ['string', 'null'] },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { agent, state, from, to, limit = 100 } = request.query;
      const anomalies = await searchAnomalies(clickhouse, { agent, state, from: millis(from), to: millis(to) }, limit, {
        timeoutMs: config.queryTimeoutMs,
        maxRows: limit,
      });
      const acks = await readAcks(clickhouse, [...new Set(anomalies.map((a) => a.alert_id))]);
      return {
        anomalies: anomalies.map((a) => ({
          ...a,
          acks: acks
            .filter((k) => k.alertId === a.alert_id)
            .map((k) => ({ by: k.ackedBy, at: new Date(k.ackedAt).toISOString(), comment: k.comment })),
        })),
      };
    },
  );

  app.get(
    '/v1/agents',
    {
      config: { roles: ['sre'] },
      schema: {
        summary: "Every agent's last scored window, its baseline per feature, and whether an alert is firing",
        tags: ['fleet'],
        querystring: NO_PARAMETERS,
        response: {
          200: {
            type: 'object',
            properties: { agents: { type: 'array', items: { type: 'object', additionalProperties: true } } },
          },
          ...errorResponses,
        },
      },
    },
    async () => ({ agents: context.agents() }),
  );

  app.post<{ Params: { agent: string } }>(
    '/v1/agents/:agent/accept',
    {
      config: { roles: ['sre'] },
      schema: {
        summary:
          "Accept an agent's current behaviour as its new normal: its firing incident and its open drift resolve as accepted (by this API key, recorded with the alerts), and its baseline and long-term reference start over",
        tags: ['fleet'],
        params: {
          type: 'object',
          properties: { agent: { type: 'string', minLength: 1, maxLength: 512 } },
          required: ['agent'],
        },
        querystring: NO_PARAMETERS,
        response: {
          200: {
            type: 'object',
            properties: {
              alert_id: { type: 'string' },
              agent: { type: 'string' },
              kind: { type: 'string' },
              state: { type: 'string' },
              resolution: { type: 'string' },
              accepted_by: { type: 'string' },
              resolved: {
                type: 'array',
                items: { type: 'object', properties: { alert_id: { type: 'string' }, kind: { type: 'string' } } },
              },
            },
          },
          ...errorResponses,
          404: errorResponses[400],
          409: errorResponses[400],
        },
      },
    },
    async (request, reply) => {
      const outcome = await context.acceptBaseline(request.params.agent, request.apiKeyName ?? 'unknown');
      if (outcome === 'unknown') {
        return sendError(
          reply,
          'AW_API_NOT_FOUND',
          `no agent ${JSON.stringify(request.params.agent)} is watched; GET /v1/agents lists them`,
        );
      }
      if (outcome === 'not-firing') {
        return sendError(
          reply,
          'AW_API_CONFLICT',
          `agent ${JSON.stringify(request.params.agent)} has no firing incident or open drift to accept`,
        );
      }
      const first = outcome[0]!;
      request.log.warn(
        { agent: first.agent, alertIds: outcome.map((a) => a.alertId), acceptedBy: first.acceptedBy },
        'behaviour accepted as the new normal',
      );
      return {
        alert_id: first.alertId,
        agent: first.agent,
        kind: first.kind,
        state: first.state,
        resolution: first.resolution ?? 'accepted',
        accepted_by: first.acceptedBy ?? '',
        resolved: outcome.map((a) => ({ alert_id: a.alertId, kind: a.kind })),
      };
    },
  );

  app.get(
    '/v1/findings/clock-skew',
    {
      config: { roles: ['sre'] },
      schema: {
        summary:
          'Producers whose records carry timestamps no clock explains (far ahead of the clock, or far behind event time): audited, but kept out of correlation, detection and the event clock',
        tags: ['fleet'],
        querystring: NO_PARAMETERS,
        response: {
          200: {
            type: 'object',
            properties: {
              findings: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    kind: { type: 'string', enum: ['clock_skew'] },
                    producer: { type: 'string' },
                    topic: { type: 'string' },
                    ahead: { type: 'integer' },
                    behind: { type: 'integer' },
                    last: {
                      type: 'object',
                      properties: {
                        partition: { type: 'integer' },
                        offset: { type: 'string' },
                        timestamp: { type: 'string' },
                        skew: { type: 'string' },
                        seen_at: { type: 'string' },
                      },
                    },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async () => ({
      findings: context.clockFindings().map((f) => ({
        ...f,
        last: {
          partition: f.last.partition,
          offset: f.last.offset,
          timestamp: isoOrNumber(f.last.timestamp),
          skew: f.last.skew,
          seen_at: new Date(f.last.seenAt).toISOString(),
        },
      })),
    }),
  );
}

/** A record timestamp as ISO 8601 where Date can show it (years 0–9999 in practice), else the raw number. */
function isoOrNumber(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}
