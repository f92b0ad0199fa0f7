// The api stage: the Fastify app (routes, auth, schemas, OpenAPI).
export { buildApi } from './app.js';
export type { AlertsContext, ApiContext } from './api-context.js';
export { ApiKeys } from './auth.js';
