// `agentwatch score`: offline scoring of window feature rows (CSV or JSONL, file or stdin) with the
// same WindowScorer, IncidentTracker and defaults as the live detector. One JSON line per input row:
//   {"index", "score", "threshold", "anomaly", "firing", "transition", "contributions"}
// The first --warmup rows (WARMUP_ROWS, else DETECT_WARMUP_WINDOWS) fit the initial baseline and
// are never flagged (score null). Afterwards a row is learned only once DETECT_LEARN_DELAY_WINDOWS
// later rows proved normal too, and nothing is learned during an incident, as live; `firing` says
// whether an incident is open after the row (DETECT_FIRE_AFTER, DETECT_RESOLVE_AFTER, DETECT_STAY_P).
// As live, an open incident ends on the latest rows together: it resolves once the mean of the last
// DETECT_RESOLVE_AFTER rows, scored at its own spread (k·D² of the mean of k rows, χ² under the
// baseline), is at or below the stay threshold in DETECT_RESOLVE_AFTER rows in a row. So a step held
// for a while stays FIRING even when single rows dip under the threshold (bench/detection/sustained.ts).

import { createReadStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { Config } from '../config/index.js';
import { IncidentTracker, scorerOptions, WindowScorer } from '../detect/index.js';
import { AgentwatchError } from '../errors.js';
import { numericCell, readRows, type InputFormat } from './score-input.js';

export interface ScoreArguments {
  file: string | undefined;
  columns: string[] | undefined;
  warmup: number | undefined;
  format: InputFormat | undefined;
}

export const SCORE_USAGE = 'agentwatch score [FILE|-] [--columns a,b,c] [--warmup N] [--format csv|jsonl]';

export function parseScoreArguments(args: readonly string[]): ScoreArguments {
  const parsed: ScoreArguments = { file: undefined, columns: undefined, warmup: undefined, format: undefined };
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '')
        throw new AgentwatchError('AW_CLI_USAGE', `${flag} needs a value; usage: ${SCORE_USAGE}`);
      return v;
    };
    if (flag === '--columns')
      parsed.columns = value()
        .split(',')
        .map((c) => c.trim())
        .filter((c) => c !== '');
    else if (flag === '--warmup') {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) < 2)
        throw new AgentwatchError('AW_CLI_USAGE', `--warmup ${v}: give a whole number of rows, at least 2`);
      parsed.warmup = Number(v);
    } else if (flag === '--format') {
      const v = value();
      if (v !== 'csv' && v !== 'jsonl') throw new AgentwatchError('AW_CLI_USAGE', `--format ${v}: use csv or jsonl`);
      parsed.format = v;
    } else if (flag.startsWith('-') && flag !== '-')
      throw new AgentwatchError('AW_CLI_USAGE', `unknown flag ${flag}; usage: ${SCORE_USAGE}`);
    else if (parsed.file !== undefined)
      throw new AgentwatchError(
        'AW_CLI_USAGE',
        `one input file only (got ${parsed.file} and ${arg}); usage: ${SCORE_USAGE}`,
      );
    else parsed.file = arg;
  }
  if (parsed.columns?.length === 0)
    throw new AgentwatchError('AW_CLI_USAGE', '--columns is empty; name at least one column');
  return parsed;
}

function formatFor(file: string | undefined, given: InputFormat | undefined): InputFormat | undefined {
  if (given !== undefined || file === undefined || file === '-') return given;
  if (/\.(jsonl|ndjson)$/i.test(file)) return 'jsonl';
  if (/\.csv$/i.test(file)) return 'csv';
  return undefined;
}

export async function runScore(
  args: ScoreArguments,
  config: Config,
  stdin: Readable,
  stdout: Writable,
  stderr?: Writable,
): Promise<number> {
  const input = args.file === undefined || args.file === '-' ? stdin : createReadStream(args.file);
  if (input !== stdin) {
    await new Promise<void>((resolve, reject) => {
      input.once('open', () => resolve());
      input.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new AgentwatchError('AW_CLI_USAGE', `cannot read ${args.file}: ${err.code ?? err.message}`, { cause: err }),
        ),
      );
    });
  }
  const warmup = args.warmup ?? config.detect.warmupRows ?? config.detect.warmupWindows;
  let columns: string[] | undefined = args.columns;
  let scorer: WindowScorer | undefined;
  let tracker: IncidentTracker<Float64Array> | undefined;
  let restartScorer = (): void => undefined;
  let index = 0;
  let vector = new Float64Array(0);
  const recentRows: Float64Array[] = [];

  for await (const row of readRows(input, formatFor(args.file, args.format))) {
    if (columns === undefined) {
      columns = [...row.cells].filter(([, v]) => numericCell(v) !== undefined).map(([k]) => k);
      if (columns.length === 0)
        throw new AgentwatchError('AW_SCORE_INPUT_INVALID', `line ${row.line}: no numeric column to score`, {
          context: { line: row.line },
        });
      const ignored = [...row.cells.keys()].filter((k) => !columns!.includes(k));
      stderr?.write(
        `agentwatch score: scoring ${columns.join(', ')}${ignored.length > 0 ? `; not numeric on line ${row.line}, ignored: ${ignored.join(', ')} (choose with --columns)` : ''}\n`,
      );
    }
    if (scorer === undefined) {
      const unknown = columns.filter((c) => !row.cells.has(c));
      if (unknown.length > 0) {
        throw new AgentwatchError(
          'AW_DETECT_FEATURE_UNKNOWN',
          `--columns names ${unknown.map((c) => JSON.stringify(c)).join(', ')}, not in the input; columns: ${[...row.cells.keys()].join(', ')}`,
        );
      }
      // Columns have no known scale offline, so the σ floor is only there to keep Σ invertible.
      const newScorer = () =>
        new WindowScorer(
          columns!.length,
          scorerOptions(config.detect, new Float64Array(columns!.length).fill(1e-6), warmup),
        );
      restartScorer = () => {
        scorer = newScorer();
      };
      scorer = newScorer();
      tracker = new IncidentTracker<Float64Array>(
        'rows',
        {
          fireAfter: config.detect.fireAfter,
          resolveAfter: config.detect.resolveAfter,
          learnDelay: config.detect.learnDelayWindows,
          acceptAfterWindows: Math.max(1, Math.round(config.detect.acceptAfterMs / config.detect.windowMs)),
          smallSamples: false,
        },
        (row, score) => scorer!.learn(row, score),
      );
      vector = new Float64Array(columns.length);
    }
    columns.forEach((column, i) => {
      if (!row.cells.has(column)) {
        throw new AgentwatchError(
          'AW_SCORE_INPUT_INVALID',
          `line ${row.line}: column ${JSON.stringify(column)} is missing`,
          { context: { line: row.line, column } },
        );
      }
      const value = numericCell(row.cells.get(column));
      if (value === undefined) {
        throw new AgentwatchError(
          'AW_SCORE_INPUT_INVALID',
          `line ${row.line}, column ${JSON.stringify(column)}: ${JSON.stringify(row.cells.get(column))} is not a number`,
          { context: { line: row.line, column } },
        );
      }
      vector[i] = value;
    });
    const result = scorer.score(vector);
    recentRows.push(vector.slice());
    if (recentRows.length > config.detect.resolveAfter) recentRows.shift();
    const recovered =
      tracker!.firing && result.score !== null ? recoveredOver(scorer, recentRows, result.stayThreshold) : undefined;
    const step = tracker!.update(result, vector.slice(), index, 1, recovered);
    if (step.restart) restartScorer(); // accepted as the new normal: the baseline warms up again from here
    const contributions: Record<string, number> = {};
    if (result.contributions !== null)
      columns.forEach((column, i) => {
        contributions[column] = result.contributions![i]!;
      });
    const line = JSON.stringify({
      index,
      score: result.score,
      threshold: result.threshold,
      anomaly: result.anomaly,
      firing: tracker!.firing,
      transition: step.transition?.state ?? null,
      resolution: step.transition?.resolution ?? null,
      contributions,
    });
    if (!stdout.write(`${line}\n`)) await new Promise((resolve) => stdout.once('drain', resolve));
    index += 1;
  }
  return 0;
}

/** Whether the mean of the latest rows, at its own spread (k·D² for k rows), is at or below the stay threshold. */
function recoveredOver(scorer: WindowScorer, rows: readonly Float64Array[], stayThreshold: number): boolean {
  const mean = new Float64Array(rows[0]!.length);
  for (const row of rows) for (let i = 0; i < mean.length; i += 1) mean[i]! += row[i]! / rows.length;
  return rows.length * scorer.baseline.score(mean).d2 <= stayThreshold;
}
