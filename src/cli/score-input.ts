// Rows for `agentwatch score`: CSV with a header row, or JSONL (one object per line), read line by
// line from a stream. Every problem names its line (and column).

import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { AgentwatchError } from '../errors.js';

export type InputFormat = 'csv' | 'jsonl';

export interface InputRow {
  line: number;
  /** Cell text (CSV) or value (JSONL) by column name. */
  cells: ReadonlyMap<string, unknown>;
}

function invalid(message: string, context: Record<string, unknown>): AgentwatchError {
  return new AgentwatchError('AW_SCORE_INPUT_INVALID', message, { context });
}

/** Splits one CSV line into cells (RFC 4180 quoting; a quoted cell may not span lines). */
export function splitCsvLine(text: string, line: number): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  if (quoted) throw invalid(`line ${line}: a quoted cell is not closed (cells may not span lines)`, { line });
  cells.push(cell);
  return cells.map((c) => c.trim());
}

/** Reads rows in order; the first non-empty line decides the format when none is given ('{' → JSONL). */
export async function* readRows(input: Readable, format?: InputFormat): AsyncGenerator<InputRow> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let header: string[] | undefined;
  let lineNumber = 0;
  for await (const raw of lines) {
    lineNumber += 1;
    const text = raw.trim();
    if (text === '') continue;
    format ??= text.startsWith('{') ? 'jsonl' : 'csv';
    if (format === 'jsonl') {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw invalid(`line ${lineNumber}: not valid JSON (${(err as Error).message})`, { line: lineNumber });
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw invalid(`line ${lineNumber}: each JSONL line must be one JSON object of column names to numbers`, {
          line: lineNumber,
        });
      }
      yield { line: lineNumber, cells: new Map(Object.entries(value)) };
      continue;
    }
    const cells = splitCsvLine(text, lineNumber);
    if (header === undefined) {
      header = cells;
      const duplicate = header.find((name, i) => header!.indexOf(name) !== i);
      if (duplicate !== undefined)
        throw invalid(`line ${lineNumber}: the header names column ${JSON.stringify(duplicate)} twice`, {
          line: lineNumber,
        });
      continue;
    }
    if (cells.length !== header.length) {
      throw invalid(`line ${lineNumber}: ${cells.length} cells, but the header has ${header.length} columns`, {
        line: lineNumber,
      });
    }
    yield { line: lineNumber, cells: new Map(header.map((name, i) => [name, cells[i]!])) };
  }
}

/** A cell as a number, or undefined when it is not numeric. */
export function numericCell(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value.trim())) return Number(value);
  return undefined;
}
