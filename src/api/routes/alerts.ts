// SRE routes (role sre) of alert delivery: the live stream (Server-Sent Events, resumable with
// Last-Event-ID), silences, acknowledgements, dead letters, and the agents' consumer groups.

import type { FastifyInstance } from 'fastify';
import { alertExists, expireSilence, insertAck, readAcks, readDeadLetters } from '../../audit/index.js';
import type { ApiContext } from '../api-context.js';
import type { ErrorCode } from '../../errors.js';
import { sendError, statusOf } from '../api-errors.js';
import { NO_PARAMETERS, errorResponses } from '../schemas.js';

/** Longest silence, as in common practice for maintenance windows: a year. */
const MAX_SILENCE_MS = 366 * 86_400_000;
const MATCHER_LABELS = ['alertname', 'agent', 'capability', 'severity', 'kind', 'scope', 'service'] as const;

const silenceSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    matchers: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          value: { type: 'string' },
          isRegex: { type: 'boolean' },
          isEqual: { type: 'boolean' },
        },
      },
    },
    starts_at: { type: 'string' },
    ends_at: { type: 'string' },
    comment: { type: 'string' },
    created_by: { type: 'string' },
    created_at: { type: 'string' },
  },
} as const;

/** Comma-separated values of a filter parameter. */
function listOf(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export function alertRoutes(app: FastifyInstance, context: ApiContext): void {
  const { clickhouse, config } = context;

  app.get<{ Querystring: { agent?: string; severity?: string; last_event_id?: string } }>(
    '/v1/alerts/stream',
    {
      config: { roles: ['sre'] },
      schema: {
        summary:
          'Alerts as they are published, as Server-Sent Events (event: alert, data: the alert as on the anomalies topic). Each id is a position on the anomalies topic: reconnect with the Last-Event-ID header (or last_event_id) to get exactly the alerts after it. event: gap says alerts were no longer kept (see GET /v1/anomalies); a comment line is sent every ALERT_STREAM_HEARTBEAT_MS',
        tags: ['alerts'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            agent: { type: 'string', maxLength: 4096, description: 'only these agents, comma-separated' },
            severity: {
              type: 'string',
              pattern: '^(minor|major|critical)(,(minor|major|critical))*$',
              description: 'only these severities, comma-separated (minor, major, critical)',
            },
            last_event_id: { type: 'string', maxLength: 10_000, description: 'as the Last-Event-ID header' },
          },
        },
        response: { ...errorResponses },
      },
    },
    async (request, reply) => {
      const header = request.headers['last-event-id'];
      const lastEventId = request.query.last_event_id ?? (Array.isArray(header) ? header[0] : header);
      const filter = { agents: listOf(request.query.agent), severities: listOf(request.query.severity) };
      reply.hijack();
      const outcome = context.alerts.openStream(reply.raw, lastEventId, filter);
      const refused = (status: number, code: ErrorCode, message: string): void => {
        reply.raw.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        reply.raw.end(JSON.stringify({ error: { code, message } }));
      };
      if (outcome === 'invalid-position')
        refused(
          statusOf('AW_API_BAD_REQUEST'),
          'AW_API_BAD_REQUEST',
          `Last-Event-ID ${JSON.stringify(lastEventId?.slice(0, 100))} is not an id of this stream (partition:offset pairs, comma-separated)`,
        );
      else if (outcome === 'too-many')
        refused(statusOf('AW_API_BUSY'), 'AW_API_BUSY', 'too many live streams are open; reconnect later');
    },
  );

  app.post<{
    Body: {
      matchers: Array<{ name: string; value: string; isRegex?: boolean; isEqual?: boolean }>;
      starts_at?: string;
      ends_at: string;
      comment: string;
    };
  }>(
    '/v1/silences',
    {
      config: { roles: ['sre'] },
      schema: {
        summary:
          'Silence alerts whose labels match, from starts_at (default now) to ends_at: they are still detected, stored and published to the anomalies topic (marked with the silence id), but not sent to webhooks or Alertmanager. Stored in the audit store with the API key that created it',
        tags: ['alerts'],
        querystring: NO_PARAMETERS,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['matchers', 'ends_at', 'comment'],
          properties: {
            matchers: {
              type: 'array',
              minItems: 1,
              maxItems: 20,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['name', 'value'],
                properties: {
                  name: { type: 'string', enum: [...MATCHER_LABELS] },
                  value: { type: 'string', maxLength: 512 },
                  isRegex: { type: 'boolean', default: false },
                  isEqual: { type: 'boolean', default: true },
                },
              },
            },
            starts_at: { type: 'string', format: 'date-time' },
            ends_at: { type: 'string', format: 'date-time' },
            comment: { type: 'string', minLength: 1, maxLength: 2_000 },
          },
        },
        response: { 201: silenceSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const now = Date.now();
      const startsAt = request.body.starts_at === undefined ? now : Date.parse(request.body.starts_at);
      const endsAt = Date.parse(request.body.ends_at);
      if (endsAt <= Math.max(startsAt, now))
        return sendError(reply, 'AW_API_BAD_REQUEST', 'ends_at must lie after starts_at and after now');
      if (endsAt - startsAt > MAX_SILENCE_MS)
        return sendError(reply, 'AW_API_BAD_REQUEST', 'a silence lasts at most 366 days; set an earlier ends_at');
      const outcome = await context.alerts.addSilence({
        matchers: request.body.matchers.map((m) => ({
          name: m.name,
          value: m.value,
          isRegex: m.isRegex ?? false,
          isEqual: m.isEqual ?? true,
        })),
        startsAt,
        endsAt,
        comment: request.body.comment,
        createdBy: request.apiKeyName ?? 'unknown',
      });
      if (typeof outcome === 'string') return sendError(reply, 'AW_API_BAD_REQUEST', outcome);
      request.log.warn({ silence: outcome.id, matchers: outcome.matchers, by: outcome.createdBy }, 'silence created');
      return reply.code(201).send(silenceJson(outcome));
    },
  );

  app.get(
    '/v1/silences',
    {
      config: { roles: ['sre'] },
      schema: {
        summary: 'Silences that have not ended, earliest end first',
        tags: ['alerts'],
        querystring: NO_PARAMETERS,
        response: {
          200: { type: 'object', properties: { silences: { type: 'array', items: silenceSchema } } },
          ...errorResponses,
        },
      },
    },
    async () => ({ silences: context.alerts.silences().map(silenceJson) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/silences/:id',
    {
      config: { roles: ['sre'] },
      schema: {
        summary: 'End a silence now (stored as a new row with who ended it and when; the original stays)',
        tags: ['alerts'],
        params: {
          type: 'object',
          properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
          required: ['id'],
        },
        querystring: NO_PARAMETERS,
        response: { 204: { type: 'null' }, ...errorResponses, 404: errorResponses[400] },
      },
    },
    async (request, reply) => {
      const by = request.apiKeyName ?? 'unknown';
      if (!(await expireSilence(clickhouse, request.params.id, by, Date.now())))
        return sendError(reply, 'AW_API_NOT_FOUND', `no active silence ${JSON.stringify(request.params.id)}`);
      await context.alerts.silenceEnded(request.params.id);
      request.log.warn({ silence: request.params.id, by }, 'silence ended early');
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string }; Body: { comment?: string } | undefined }>(
    '/v1/anomalies/:id/ack',
    {
      config: { roles: ['sre'] },
      schema: {
        summary:
          'Acknowledge an alert: who (this API key) took it, when, and a comment, stored in the audit store; delivery is unchanged',
        tags: ['alerts'],
        params: {
          type: 'object',
          properties: { id: { type: 'string', minLength: 1, maxLength: 1_024 } },
          required: ['id'],
        },
        querystring: NO_PARAMETERS,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { comment: { type: 'string', maxLength: 2_000 } },
        },
        response: {
          201: {
            type: 'object',
            properties: {
              alert_id: { type: 'string' },
              acked_by: { type: 'string' },
              acked_at: { type: 'string' },
              comment: { type: 'string' },
              acks: { type: 'integer', description: 'acknowledgements of this alert so far, this one included' },
            },
          },
          ...errorResponses,
          404: errorResponses[400],
        },
      },
    },
    async (request, reply) => {
      const alertId = request.params.id;
      if (!(await alertExists(clickhouse, alertId)))
        return sendError(
          reply,
          'AW_API_NOT_FOUND',
          `no alert ${JSON.stringify(alertId)}; GET /v1/anomalies lists them`,
        );
      const ack = {
        alertId,
        ackedBy: request.apiKeyName ?? 'unknown',
        ackedAt: Date.now(),
        comment: request.body?.comment ?? '',
      };
      await insertAck(clickhouse, ack);
      const acks = await readAcks(clickhouse, [alertId]);
      request.log.info({ alertId, by: ack.ackedBy }, 'alert acknowledged');
      return reply.code(201).send({
        alert_id: alertId,
        acked_by: ack.ackedBy,
        acked_at: new Date(ack.ackedAt).toISOString(),
        comment: ack.comment,
        acks: acks.length,
      });
    },
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/v1/alerts/dead-letters',
    {
      config: { roles: ['sre'] },
      schema: {
        summary:
          'Alerts a webhook or Alertmanager never took (after ALERT_DELIVERY_MAX_ATTEMPTS, or refused with a 4xx), newest first',
        tags: ['alerts'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
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
              dead_letters: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    destination: { type: 'string' },
                    alert_id: { type: 'string' },
                    state: { type: 'string' },
                    partition: { type: 'integer' },
                    offset: { type: 'string' },
                    attempts: { type: 'integer' },
                    last_error: { type: 'string' },
                    alert: { type: 'string' },
                    at: { type: 'string' },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => ({
      dead_letters: (await readDeadLetters(clickhouse, request.query.limit ?? 100)).map((d) => ({
        destination: d.destination,
        alert_id: d.alertId,
        state: d.state,
        partition: d.partition,
        offset: d.offset,
        attempts: d.attempts,
        last_error: d.lastError,
        alert: d.alert,
        at: new Date(d.at).toISOString(),
      })),
    }),
  );

  app.get(
    '/v1/consumer-groups',
    {
      config: { roles: ['sre'] },
      schema: {
        summary:
          "The agents' consumer groups (those with offsets on tapped topics) as last evaluated: lag in records and seconds, commit rate, members, and status in Burrow's sense (OK, WARNING, STALLED, STOPPED, ERROR) with its reason",
        tags: ['alerts'],
        querystring: NO_PARAMETERS,
        response: {
          200: {
            type: 'object',
            properties: { groups: { type: 'array', items: { type: 'object', additionalProperties: true } } },
          },
          ...errorResponses,
        },
      },
    },
    async () => ({ groups: context.alerts.consumerGroups() }),
  );
}

function silenceJson(s: {
  id: string;
  matchers: Array<{ name: string; value: string; isRegex: boolean; isEqual: boolean }>;
  startsAt: number;
  endsAt: number;
  comment: string;
  createdBy: string;
  createdAt: number;
}): Record<string, unknown> {
  return {
    id: s.id,
    matchers: s.matchers,
    starts_at: new Date(s.startsAt).toISOString(),
    ends_at: new Date(s.endsAt).toISOString(),
    comment: s.comment,
    created_by: s.createdBy,
    created_at: new Date(s.createdAt).toISOString(),
  };
}
