// The decode stage: wire formats to the canonical AgentEvent.
export { createSchemaRegistry, probeSchemaRegistry } from './schema-registry.js';
