// A sink that appends every event (and every task timeout) as one JSON line to a file, and fsyncs
// before it resolves, so a committed offset never passes what is on disk. The simplest flight
// recorder, and a way to see exactly what agentwatch extracted.

import { open, type FileHandle } from 'node:fs/promises';
import type { CorrelatedBatch, EventSink } from '../correlate/index.js';
import type { AgentEvent } from '../decode/index.js';

export class NdjsonFileSink implements EventSink {
  readonly name = 'events-file';

  /** Appends run one at a time: concurrent appendFile calls on one handle could interleave. */
  private tail: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
  ) {}

  /** Opens `path` for appending. A last line torn by a crash is ended, so new lines start clean. */
  static async open(path: string): Promise<NdjsonFileSink> {
    const file = await open(path, 'a+');
    const { size } = await file.stat();
    if (size > 0) {
      const last = Buffer.alloc(1);
      await file.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) await file.appendFile('\n');
    }
    return new NdjsonFileSink(file, path);
  }

  async accept(batch: CorrelatedBatch): Promise<void> {
    const lines: string[] = [];
    for (const event of batch.events) lines.push(eventLine(event));
    for (const timeout of batch.timeouts) lines.push(JSON.stringify({ type: 'timeout', ...timeout }));
    if (lines.length === 0) return;
    const write = this.tail.then(async () => {
      await this.file.appendFile(`${lines.join('\n')}\n`);
      await this.file.sync();
    });
    this.tail = write.catch(() => undefined);
    await write;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.file.close();
  }
}

/**
 * One event's line. A body nested too deeply for JSON.stringify (a 100,000-deep array parses, but
 * does not serialise: the stack runs out) is left out with the reason; the raw value is still there.
 */
function eventLine(event: AgentEvent): string {
  try {
    return JSON.stringify({ type: 'event', ...eventForJson(event) });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return JSON.stringify({
      type: 'event',
      ...eventForJson({ ...event, body: null }),
      bodyError: 'nested too deeply to serialise',
    });
  }
}

/**
 * The event as JSON: the raw value as UTF-8 text when it is text, else base64. An event decoded on
 * an ingest worker carries no body (only its audit row's tail, which is left out): it is parsed
 * again from the value here, so that the file is the same with or without workers.
 */
export function eventForJson(event: AgentEvent): Record<string, unknown> {
  const { value, body: decodedBody, auditRowTail: _rowTail, ...rest } = event;
  const body = decodedBody ?? parsedAgain(event);
  const raw =
    value === null
      ? null
      : event.encoding === 'opaque' || event.encoding === 'avro'
        ? { base64: value.toString('base64') }
        : { text: value.toString('utf8') };
  return {
    ...rest,
    body: event.encoding === 'avro' ? JSON.parse(JSON.stringify(body, avroJsonReplacer)) : body,
    value: raw,
  };
}

/** The JSON body of a JSON or A2A event whose body was not kept, else null. */
function parsedAgain(event: AgentEvent): unknown {
  if (event.value === null || (event.encoding !== 'json' && event.encoding !== 'a2a-jsonrpc')) return null;
  try {
    return JSON.parse((event.schemaId === null ? event.value : event.value.subarray(5)).toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

function avroJsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
