// The plain task envelope (JSON, or an Avro record with the same fields) → Semantics:
//   request: {"workflow_id", "task_type", "payload", "a2a_version", optional "task_id", "step", "attempt"}
//   result:  {"workflow_id", "result", optional "task_id"}; error: {"workflow_id", "error"}
//   status:  {"workflow_id" or "task_id", "status" | "state"}
// Bare A2A objects (Task, Message, status/artifact updates) published without JSON-RPC are read too.

import { interpretA2AObject, normaliseState } from './a2a-jsonrpc.js';
import { TERMINAL_STATES } from './agent-event.js';
import {
  applyMetadata,
  attemptNumber,
  emptySemantics,
  firstText,
  isObject,
  text,
  type JsonObject,
  type Semantics,
} from './semantics.js';

export function interpretEnvelope(body: JsonObject): Semantics {
  const semantics = emptySemantics();
  interpretA2AObject(semantics, body);
  if (semantics.kind !== 'unknown') return semantics;

  semantics.workflowId = firstText(body, ['workflow_id', 'workflowId']);
  semantics.taskId = firstText(body, ['task_id', 'taskId']);
  semantics.capability = firstText(body, ['task_type', 'taskType', 'capability']);
  semantics.producer = firstText(body, ['agent_id', 'agentId', 'agent']);
  semantics.step = firstText(body, ['step']);
  semantics.messageId = firstText(body, ['message_id', 'messageId']);
  semantics.contextId = firstText(body, ['context_id', 'contextId']);
  semantics.attempt = attemptNumber(body.attempt);
  applyMetadata(semantics, body.metadata);

  const hasId = semantics.workflowId !== null || semantics.taskId !== null;
  if (!hasId) return semantics;
  if ('error' in body && body.error !== null && body.error !== undefined) {
    semantics.kind = 'error';
    semantics.state = 'failed';
    semantics.errorType = isObject(body.error)
      ? (firstText(body.error, ['type', 'code']) ?? 'error')
      : (text(body.error) ?? 'error');
  } else if ('result' in body) {
    semantics.kind = 'result';
    semantics.state = normaliseState(body.state ?? body.status) ?? 'completed';
  } else if ('payload' in body || semantics.capability !== null) {
    semantics.kind = 'request';
  } else {
    const state = normaliseState(body.state ?? (isObject(body.status) ? body.status.state : body.status));
    if (state !== null) {
      semantics.state = state;
      semantics.kind = TERMINAL_STATES.has(state) ? 'result' : 'status';
    }
  }
  return semantics;
}
