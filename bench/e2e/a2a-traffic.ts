// The end-to-end benchmark's traffic: A2A JSON-RPC `SendMessage` requests on agent.tasks.<capability>
// and their task results on agent.results.<capability>, about 500 bytes each, keyed by workflow id.
// One message of each kind is built the way the simulator builds them, with placeholders; each
// message then only fills in its ids, so the generator never limits the preload.

import { a2aSendMessage, a2aTaskCompleted } from '../../src/sim/a2a-messages.js';

export interface BenchRecord {
  topic: string;
  key: string;
  timestamp: string;
  value: string;
}

export const CAPABILITIES = ['extract', 'summarize', 'classify', 'translate', 'route', 'verify'] as const;

/** The 12 topics (6 capabilities × tasks/results), each with one partition: 12 partitions in all. */
export function benchTopics(run: string): string[] {
  return CAPABILITIES.flatMap((c) => [`agent.tasks.${c}-${run}`, `agent.results.${c}-${run}`]);
}

const TEXT_BYTES = 180;

const PLACEHOLDERS = { workflowId: '@WF@', taskId: '@TASK@', rpcId: '@RPC@', messageId: '@MSG@' };

/**
 * `tasks` tasks spread over the capabilities, each as a request and, `latency` ms of event time
 * later, its result: 2 × tasks records in event-time order per topic. Event time advances by
 * `spacingMs` per task, starting at `startMs`.
 */
export function* a2aTraffic(
  run: string,
  tasks: number,
  options: { startMs: number; spacingMs: number },
): Generator<BenchRecord> {
  const request = a2aSendMessage(PLACEHOLDERS, '@STEP@', 1, '@TEXT@');
  const result = a2aTaskCompleted(PLACEHOLDERS, '@TEXT@');
  const text = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(TEXT_BYTES / 27)).slice(0, TEXT_BYTES);
  const fill = (template: string, ids: Record<string, string>) =>
    template.replace(/@([A-Z]+)@/g, (_, name: string) => ids[name]!);
  for (let i = 0; i < tasks; i += 1) {
    const capability = CAPABILITIES[i % CAPABILITIES.length]!;
    const workflow = `wf-${run}-${Math.floor(i / CAPABILITIES.length)
      .toString(36)
      .padStart(6, '0')}`;
    const ids = {
      WF: workflow,
      TASK: `task-${run}-${i.toString(36).padStart(7, '0')}`,
      RPC: `rpc-${i}`,
      MSG: `msg-${i}`,
      STEP: String(i % CAPABILITIES.length),
      TEXT: text,
    };
    const sent = options.startMs + i * options.spacingMs;
    const latency = 200 + ((i * 7919) % 1800); // 0.2-2 s, deterministic
    yield {
      topic: `agent.tasks.${capability}-${run}`,
      key: workflow,
      timestamp: String(Math.round(sent)),
      value: fill(request, ids),
    };
    yield {
      topic: `agent.results.${capability}-${run}`,
      key: workflow,
      timestamp: String(Math.round(sent + latency)),
      value: fill(result, { ...ids, MSG: `msg-r-${i}` }),
    };
  }
}
