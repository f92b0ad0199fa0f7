// A2A over JSON-RPC 2.0 → Semantics. Reads both protocol generations: v0.3 (message/send,
// message/stream, tasks/get, tasks/cancel, and the older tasks/send; objects tagged by `kind`) and
// v1.0 (SendMessage, GetTask, ...; results wrapped as {task} / {message} / {statusUpdate} /
// {artifactUpdate}; states spelled TASK_STATE_*). Method names are normalised to v1.0 with the
// official mapping from @a2a-js/sdk.

import { isLegacyJsonRpcMethod, legacyJsonRpcToV1Method } from '@a2a-js/sdk/compat/v0_3';
import type { Message, Task, TaskArtifactUpdateEvent, TaskStatusUpdateEvent } from '@a2a-js/sdk';
import { TERMINAL_STATES, type TaskState } from './agent-event.js';
import {
  applyMetadata,
  emptySemantics,
  firstText,
  isObject,
  text,
  type JsonObject,
  type Semantics,
} from './semantics.js';

/** Pre-0.3 names the SDK no longer maps. */
const PRE_V03_METHODS: Readonly<Record<string, string>> = {
  'tasks/send': 'SendMessage',
  'tasks/sendSubscribe': 'SendStreamingMessage',
};

/** Methods whose request starts (or continues) a task that will be answered: correlation opens on these. */
export const TASK_OPENING_METHODS: ReadonlySet<string> = new Set(['SendMessage', 'SendStreamingMessage']);

export function normaliseMethod(method: string): string {
  const older = PRE_V03_METHODS[method];
  if (older !== undefined) return older;
  if (isLegacyJsonRpcMethod(method)) return legacyJsonRpcToV1Method(method);
  return method;
}

const STATE_NAMES: Readonly<Record<string, TaskState>> = {
  submitted: 'submitted',
  working: 'working',
  'input-required': 'input-required',
  completed: 'completed',
  failed: 'failed',
  canceled: 'canceled',
  cancelled: 'canceled',
  rejected: 'rejected',
  'auth-required': 'auth-required',
  unknown: 'unknown',
  TASK_STATE_SUBMITTED: 'submitted',
  TASK_STATE_WORKING: 'working',
  TASK_STATE_INPUT_REQUIRED: 'input-required',
  TASK_STATE_COMPLETED: 'completed',
  TASK_STATE_FAILED: 'failed',
  TASK_STATE_CANCELED: 'canceled',
  TASK_STATE_CANCELLED: 'canceled',
  TASK_STATE_REJECTED: 'rejected',
  TASK_STATE_AUTH_REQUIRED: 'auth-required',
  TASK_STATE_UNSPECIFIED: 'unknown',
};

/** A2A task state in either spelling; 'unknown' for an unrecognised string, null when absent. */
export function normaliseState(raw: unknown): TaskState | null {
  const name = text(raw);
  if (name === null) return null;
  return STATE_NAMES[name] ?? STATE_NAMES[name.toLowerCase()] ?? 'unknown';
}

export function isJsonRpc(body: JsonObject): boolean {
  return body.jsonrpc === '2.0' && (typeof body.method === 'string' || 'result' in body || 'error' in body);
}

export function interpretJsonRpc(body: JsonObject): Semantics {
  const semantics = emptySemantics();
  semantics.rpcId = text(body.id);
  if (typeof body.method === 'string') {
    interpretRequest(semantics, normaliseMethod(body.method), isObject(body.params) ? body.params : {});
  } else if (isObject(body.error)) {
    semantics.kind = 'error';
    semantics.state = 'failed';
    semantics.errorType = text(body.error.code) ?? 'jsonrpc-error';
    const data = body.error.data;
    if (isObject(data)) {
      semantics.taskId = firstText(data, ['taskId', 'id']);
      applyMetadata(semantics, data);
    }
  } else {
    interpretA2AObject(semantics, body.result);
    // A bare response that is none of the A2A objects still answers its request.
    if (semantics.kind === 'unknown') semantics.kind = 'result';
  }
  return semantics;
}

function interpretRequest(semantics: Semantics, method: string, params: JsonObject): void {
  semantics.kind = 'request';
  semantics.method = method;
  const message = isObject(params.message) ? (params.message as Partial<Message> & JsonObject) : undefined;
  if (message !== undefined) {
    semantics.taskId = text(message.taskId);
    semantics.contextId = text(message.contextId);
    semantics.messageId = text(message.messageId);
    applyMetadata(semantics, message.metadata);
  } else {
    // GetTask / CancelTask / SubscribeToTask name the task directly.
    semantics.taskId = firstText(params, ['id', 'taskId', 'name']);
  }
  applyMetadata(semantics, params.metadata);
}

/**
 * Fills `semantics` from a Task, Message, status-update or artifact-update object, in the v0.3
 * (`kind`-tagged) or v1.0 (wrapped) form. Leaves kind 'unknown' when `value` is none of them.
 */
export function interpretA2AObject(semantics: Semantics, value: unknown): void {
  if (!isObject(value)) return;
  // v1.0 StreamResponse / SendMessageResponse wrap the object in a field named after its type.
  if (isObject(value.task)) return interpretTask(semantics, value.task);
  if (isObject(value.message)) return interpretMessage(semantics, value.message);
  if (isObject(value.statusUpdate)) return interpretStatusUpdate(semantics, value.statusUpdate);
  if (isObject(value.artifactUpdate)) return interpretArtifactUpdate(semantics, value.artifactUpdate);
  switch (value.kind) {
    case 'task':
      return interpretTask(semantics, value);
    case 'message':
      return interpretMessage(semantics, value);
    case 'status-update':
      return interpretStatusUpdate(semantics, value);
    case 'artifact-update':
      return interpretArtifactUpdate(semantics, value);
    default:
      if (isObject(value.status) && typeof value.id === 'string') return interpretTask(semantics, value);
      if (isObject(value.status) && typeof value.taskId === 'string') return interpretStatusUpdate(semantics, value);
      if (Array.isArray(value.parts) && typeof value.role === 'string') return interpretMessage(semantics, value);
  }
}

function interpretTask(semantics: Semantics, task: Partial<Task> & JsonObject): void {
  semantics.taskId = text(task.id);
  semantics.contextId = text(task.contextId);
  semantics.state = normaliseState(isObject(task.status) ? task.status.state : undefined);
  semantics.kind = semantics.state !== null && TERMINAL_STATES.has(semantics.state) ? 'result' : 'status';
  applyMetadata(semantics, task.metadata);
}

function interpretMessage(semantics: Semantics, message: Partial<Message> & JsonObject): void {
  // An agent's direct reply: the answer to the request, with no task lifecycle.
  semantics.kind = 'result';
  semantics.taskId = text(message.taskId);
  semantics.contextId = text(message.contextId);
  semantics.messageId = text(message.messageId);
  applyMetadata(semantics, message.metadata);
}

function interpretStatusUpdate(semantics: Semantics, update: Partial<TaskStatusUpdateEvent> & JsonObject): void {
  semantics.kind = 'status';
  semantics.taskId = text(update.taskId);
  semantics.contextId = text(update.contextId);
  semantics.state = normaliseState(isObject(update.status) ? update.status.state : undefined);
  applyMetadata(semantics, update.metadata);
}

function interpretArtifactUpdate(semantics: Semantics, update: Partial<TaskArtifactUpdateEvent> & JsonObject): void {
  semantics.kind = 'status';
  semantics.taskId = text(update.taskId);
  semantics.contextId = text(update.contextId);
  applyMetadata(semantics, update.metadata);
}
