// Audit routes (role auditor): search with keyset pagination, streamed export, chain verification.

import type { FastifyInstance } from 'fastify';
import {
  planExport,
  searchAudit,
  searchIntegrityFindings,
  streamExport,
  verifyPartition,
  type AuditFilter,
} from '../../audit/index.js';
import type { ApiContext } from '../api-context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { auditFilterProperties, auditRecordSchema, errorResponses, millis } from '../schemas.js';
import { badRequest } from '../api-errors.js';

type FilterQuery = { [K in keyof typeof auditFilterProperties]?: string };

function filterOf(query: FilterQuery): AuditFilter {
  return {
    workflowId: query.workflowId,
    taskId: query.taskId,
    producer: query.producer,
    capability: query.capability,
    topic: query.topic,
    kind: query.kind,
    state: query.state,
    from: millis(query.from),
    to: millis(query.to),
  };
}

export function auditRoutes(app: FastifyInstance, context: ApiContext): void {
  const { clickhouse, config } = context;
  const limits = { timeoutMs: config.queryTimeoutMs, maxRows: config.maxPageRows + 1 };

  app.get<{ Querystring: FilterQuery & { limit?: number; cursor?: string } }>(
    '/v1/audit/events',
    {
      config: { roles: ['auditor'] },
      schema: {
        summary: 'Audit events matching the filters, in (time, topic, partition, offset) order, one page at a time',
        tags: ['audit'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...auditFilterProperties,
            limit: {
              type: 'integer',
              minimum: 1,
              maximum: config.maxPageRows,
              default: Math.min(100, config.maxPageRows),
            },
            cursor: {
              type: 'string',
              pattern: '^[A-Za-z0-9_-]+$',
              maxLength: 2048,
              description: 'nextCursor of the previous page',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              records: { type: 'array', items: auditRecordSchema },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { limit = 100, cursor, ...filters } = request.query;
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      if (cursor !== undefined && after === undefined)
        throw badRequest('cursor is not a cursor this API returned; start without it');
      const page = await searchAudit(clickhouse, filterOf(filters), { limit, after }, limits);
      return { records: page.records, nextCursor: page.next === null ? null : encodeCursor(page.next) };
    },
  );

  app.get<{ Querystring: FilterQuery & { format?: 'ndjson' | 'csv' | 'chain' } }>(
    '/v1/audit/export',
    {
      config: { roles: ['auditor'] },
      schema: {
        summary:
          'Every audit event matching the filters, streamed as NDJSON or CSV (header row); format=chain: the stored rows as hashed (bytes as base64), for recomputing the chain (docs/audit-chain.md)',
        tags: ['audit'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...auditFilterProperties,
            format: { type: 'string', enum: ['ndjson', 'csv', 'chain'], default: 'ndjson' },
          },
        },
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const { format = 'ndjson', ...filters } = request.query;
      const abort = new AbortController();
      request.raw.on('close', () => abort.abort());
      const filter = filterOf(filters);
      const limits = { timeoutMs: config.queryTimeoutMs * 10, maxRows: config.maxExportRows };
      const plan = await planExport(clickhouse, filter, limits);
      if (plan.rows > config.maxExportRows) {
        throw badRequest(
          `the export matches ${plan.rows} rows, more than API_MAX_EXPORT_ROWS (${config.maxExportRows}); narrow it, e.g. with from and to`,
        );
      }
      const stream = streamExport(clickhouse, filter, plan, format, limits, abort.signal);
      reply.header(
        'content-type',
        format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      );
      reply.header(
        'content-disposition',
        `attachment; filename="agentwatch-audit.${format === 'csv' ? 'csv' : 'ndjson'}"`,
      );
      return reply.send(stream);
    },
  );

  app.get<{ Querystring: { topic: string; partition: number; from?: string; to?: string } }>(
    '/v1/audit/verify',
    {
      config: { roles: ['auditor'] },
      schema: {
        summary:
          'Recompute the hash chain of one topic-partition (optionally an offset range); report the first broken link',
        tags: ['audit'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['topic', 'partition'],
          properties: {
            topic: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$' },
            partition: { type: 'integer', minimum: 0 },
            from: { type: 'string', pattern: '^\\d{1,20}$' },
            to: { type: 'string', pattern: '^\\d{1,20}$' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              topic: { type: 'string' },
              partition: { type: 'integer' },
              rowsChecked: { type: 'integer' },
              firstOffset: { type: ['string', 'null'] },
              lastOffset: { type: ['string', 'null'] },
              startsAfter: { type: ['string', 'null'] },
              ok: { type: 'boolean' },
              problem: {
                type: ['object', 'null'],
                properties: { kind: { type: 'string' }, offset: { type: 'string' }, detail: { type: 'string' } },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { topic, partition, from, to } = request.query;
      return verifyPartition(clickhouse, {
        topic,
        partition,
        ...(from === undefined ? {} : { fromOffset: from }),
        ...(to === undefined ? {} : { toOffset: to }),
      });
    },
  );

  app.get<{ Querystring: { topic?: string; limit?: number } }>(
    '/v1/audit/integrity',
    {
      config: { roles: ['auditor'] },
      schema: {
        summary:
          'Integrity findings, newest first: records whose offset held a different stored row (forged or rewritten); the genuine row is kept in integrity_findings',
        tags: ['audit'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            topic: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              findings: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    found_at: { type: 'string' },
                    topic: { type: 'string' },
                    partition: { type: 'integer' },
                    offset: { type: 'string' },
                    kind: { type: 'string' },
                    detail: { type: 'string' },
                    stored_hash: { type: 'string' },
                    record_hash: { type: 'string' },
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
      const { topic, limit = 100 } = request.query;
      return {
        findings: await searchIntegrityFindings(clickhouse, { topic }, limit, {
          timeoutMs: config.queryTimeoutMs,
          maxRows: limit,
        }),
      };
    },
  );
}
