// What the payload says about the agent exchange, before Kafka coordinates and correlation are added.
// Filled by the A2A and envelope interpreters; every field is optional evidence.

import type { EventKind, TaskState } from './agent-event.js';

export interface Semantics {
  kind: EventKind;
  capability: string | null;
  /** The producing agent, when the payload names it. */
  producer: string | null;
  workflowId: string | null;
  taskId: string | null;
  messageId: string | null;
  contextId: string | null;
  rpcId: string | null;
  method: string | null;
  step: string | null;
  state: TaskState | null;
  errorType: string | null;
  attempt: number | null;
}

export function emptySemantics(): Semantics {
  return {
    kind: 'unknown',
    capability: null,
    producer: null,
    workflowId: null,
    taskId: null,
    messageId: null,
    contextId: null,
    rpcId: null,
    method: null,
    step: null,
    state: null,
    errorType: null,
    attempt: null,
  };
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-empty string or number as a string; anything else is null. */
export function text(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/** The first of `names` present in `object` as text. */
export function firstText(object: JsonObject | undefined, names: readonly string[]): string | null {
  if (object === undefined) return null;
  for (const name of names) {
    const value = text(object[name]);
    if (value !== null) return value;
  }
  return null;
}

/** A positive whole attempt number from a number or numeric string. */
export function attemptNumber(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= 1 ? n : null;
}

/** Metadata keys agents use for the facts correlation needs, in order of preference. */
export const METADATA_KEYS = {
  workflowId: ['workflowId', 'workflow_id', 'workflow-id'],
  capability: ['capability', 'task_type', 'taskType', 'skill', 'skillId'],
  producer: ['agentId', 'agent_id', 'agent'],
  step: ['step', 'workflowStep', 'workflow_step'],
  attempt: ['attempt', 'a2a-attempt', 'deliveryAttempt'],
} as const;

/** Fills what is still null in `into` from an A2A/extension metadata object. */
export function applyMetadata(into: Semantics, metadata: unknown): void {
  if (!isObject(metadata)) return;
  into.workflowId ??= firstText(metadata, METADATA_KEYS.workflowId);
  into.capability ??= firstText(metadata, METADATA_KEYS.capability);
  into.producer ??= firstText(metadata, METADATA_KEYS.producer);
  into.step ??= firstText(metadata, METADATA_KEYS.step);
  if (into.attempt === null) {
    for (const key of METADATA_KEYS.attempt) {
      const attempt = attemptNumber(metadata[key]);
      if (attempt !== null) {
        into.attempt = attempt;
        break;
      }
    }
  }
}
