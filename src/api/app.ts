// The HTTP API (Fastify): compliance queries, export and verification for auditors, anomalies and
// agents for SREs, health for everyone. Schema first: every route declares its request and response
// schemas, which validate (unknown parameters are rejected), serialise, and make /openapi.json.

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { ApiRole } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { ApiContext } from './api-context.js';
import { ERROR_CATALOGUE, isAgentwatchError } from '../errors.js';
import { ApiError, isStoreUnavailable, sendError } from './api-errors.js';
import { ApiKeys, mayAccess, presentedKey } from './auth.js';
import { alertRoutes } from './routes/alerts.js';
import { auditRoutes } from './routes/audit.js';
import { fleetRoutes } from './routes/fleet.js';
import { healthRoutes } from './routes/health.js';
import { workflowRoutes } from './routes/workflows.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Roles that may call the route (admin always may); none: public. */
    roles?: readonly ApiRole[];
  }
  interface FastifyRequest {
    /** The name of the API key that authorised the request (null on public routes). */
    apiKeyName: string | null;
  }
}

/** The longest path parameter (workflow id, agent) the routes' schemas accept, in characters. */
const MAX_PARAM_CHARS = 512;

export async function buildApi(context: ApiContext, logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger.child({ component: 'api' }) as FastifyBaseLogger,
    // Unknown query parameters are an error (400), not silently dropped; types are coerced from text.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
    bodyLimit: 64 * 1024,
    // Path parameters are limited by their schemas (512 characters); the router's own limit counts
    // the percent-encoded text, up to 12 characters per character (a 4-byte UTF-8 character).
    routerOptions: { maxParamLength: MAX_PARAM_CHARS * 12 },
  });
  const keys = new ApiKeys(context.config.keys);
  if (keys.size === 0)
    logger.warn('API_KEYS is empty: every API route except /healthz, /readyz and the docs answers 401');

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'agentwatch API',
        version: '1',
        description: 'Compliance queries, export and verification of the agent audit trail; anomalies and agents.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key> (or X-API-Key)' },
        },
      },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.decorateRequest('apiKeyName', null);
  app.addHook('onRequest', async (request, reply) => {
    const roles = request.routeOptions.config.roles;
    if (roles === undefined) return;
    const principal = keys.authenticate(presentedKey(request.headers));
    if (principal === undefined) {
      return sendError(reply, 'AW_API_UNAUTHORIZED', 'a valid API key is required (Authorization: Bearer <key>)');
    }
    if (!mayAccess(principal, roles)) {
      return sendError(
        reply,
        'AW_API_FORBIDDEN',
        `this key may not call ${request.routeOptions.url}; it needs the role ${roles.join(' or ')}`,
      );
    }
    request.apiKeyName = principal.name;
    request.log.info({ apiKey: principal.name }, 'authorised');
    return undefined;
  });

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) return sendError(reply, error.code, error.message);
    if ('validation' in error && error.validation !== undefined) {
      const where = error.validationContext ?? 'request';
      const unknown = error.validation.find((v) => v.keyword === 'additionalProperties')?.params.additionalProperty;
      if (typeof unknown === 'string')
        return sendError(reply, 'AW_API_BAD_REQUEST', unknownParameter(where, unknown, request.url));
      return sendError(
        reply,
        'AW_API_BAD_REQUEST',
        `${where} ${error.message.replace(/^(querystring|params|body)\s*/, '')}`,
      );
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: { code: 'AW_API_BAD_REQUEST', message: error.message } });
    }
    if (isAgentwatchError(error) && ERROR_CATALOGUE[error.code].httpStatus !== null) {
      request.log.warn({ err: error }, 'request failed');
      return sendError(reply, error.code, error.message);
    }
    if (isStoreUnavailable(error)) {
      request.log.warn({ err: error }, 'request failed: ClickHouse did not answer');
      return sendError(
        reply,
        'AW_CLICKHOUSE_UNAVAILABLE',
        'the audit store (ClickHouse) did not answer; try again later',
      );
    }
    // Database errors and bugs: logged in full, never echoed (they could reveal internals).
    request.log.error({ err: error }, 'request failed');
    return sendError(reply, 'AW_API_INTERNAL', 'the request failed inside agentwatch; the server log has the details');
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 'AW_API_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
  );

  // Live streams never end by themselves: end them first, or closing the server would wait forever.
  app.addHook('preClose', async () => context.alerts.closeStreams());
  healthRoutes(app, context);
  auditRoutes(app, context);
  workflowRoutes(app, context);
  fleetRoutes(app, context);
  alertRoutes(app, context);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

/** The 400 message for a parameter a route does not take, with the one to use where a name changed. */
function unknownParameter(where: string, name: string, url: string): string {
  const message = `${where} has a parameter this route does not take: '${name}'`;
  if (name === 'agent' && url.startsWith('/v1/audit/'))
    return `${message}. Audit records are filtered by 'capability' (what detection calls the agent) or 'producer' (the agent that sent the record).`;
  return `${message}.`;
}
