// The A2A JSON-RPC messages the simulated fleet sends, built from the @a2a-js/sdk types: a
// dispatcher's `SendMessage` request and a worker's completed task. Shared by the simulator and the
// benchmark's traffic (which fills placeholders into one message of each kind).

import { Message, Role, Task, TaskState } from '@a2a-js/sdk';

export interface A2AIds {
  workflowId: string;
  taskId: string;
  /** The JSON-RPC id; an answer repeats its request's (null when that had none). */
  rpcId: string | null;
  messageId: string;
}

/** A `SendMessage` request carrying `text`, with the workflow, step and attempt in its metadata. */
export function a2aSendMessage(ids: A2AIds, step: string, attempt: number, text: string): string {
  const message: Message = {
    messageId: ids.messageId,
    contextId: ids.workflowId,
    taskId: ids.taskId,
    role: Role.ROLE_USER,
    parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' }],
    metadata: { workflowId: ids.workflowId, step, attempt },
    extensions: [],
    referenceTaskIds: [],
  };
  return JSON.stringify({
    jsonrpc: '2.0',
    id: ids.rpcId,
    method: 'SendMessage',
    params: { message: Message.toJSON(message), metadata: { workflowId: ids.workflowId } },
  });
}

/** The JSON-RPC result of a completed task whose agent message carries `text`. */
export function a2aTaskCompleted(ids: A2AIds, text: string): string {
  const task: Task = {
    id: ids.taskId,
    contextId: ids.workflowId,
    artifacts: [],
    history: [],
    metadata: undefined,
    status: {
      state: TaskState.TASK_STATE_COMPLETED,
      timestamp: undefined,
      message: {
        messageId: ids.messageId,
        contextId: ids.workflowId,
        taskId: ids.taskId,
        role: Role.ROLE_AGENT,
        parts: [
          { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' },
        ],
        metadata: undefined,
        extensions: [],
        referenceTaskIds: [],
      },
    },
  };
  return JSON.stringify({ jsonrpc: '2.0', id: ids.rpcId, result: { task: Task.toJSON(task) } });
}
