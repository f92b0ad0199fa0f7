import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parseScoreArguments, runScore } from '../../../src/cli/score-command.js';
import { loadConfig } from '../../../src/config/index.js';
import { AgentwatchError } from '../../../src/errors.js';
import { seededRandom } from '../../../src/sim/index.js';

const cli = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

interface Output {
  index: number;
  score: number | null;
  threshold: number;
  anomaly: boolean;
  firing: boolean;
  contributions: Record<string, number>;
}

async function score(text: string, args: string[] = [], env: Record<string, string> = {}): Promise<Output[]> {
  let out = '';
  const stdout = new Writable({
    write(chunk, _enc, done) {
      out += String(chunk);
      done();
    },
  });
  await runScore(parseScoreArguments(args), loadConfig(env), Readable.from([text]), stdout);
  return out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Output);
}

/** 80 windows where rate and latency move together, and a joint shift at row 70. */
function windowsCsv(): string {
  const random = seededRandom(5);
  const rows = ['window,rate,latency,size'];
  for (let i = 0; i < 80; i += 1) {
    const z = random.normal();
    let [rate, latency] = [50 + 5 * z + random.normal() * 0.5, 200 + 20 * z + random.normal() * 2];
    if (i === 70) [rate, latency] = [42, 225]; // each within ±3σ, together far outside
    rows.push(`w${i},${rate.toFixed(3)},${latency.toFixed(3)},${(1000 + random.normal() * 50).toFixed(1)}`);
  }
  return rows.join('\n');
}

/**
 * Four independent unit-variance columns: 200 normal rows, then the mean moved by Δ = 5 (Mahalanobis)
 * over two columns for 30 rows, then 60 normal rows.
 */
function heldStepCsv(seed: number): { csv: string; from: number; to: number } {
  const random = seededRandom(seed);
  const rows = ['a,b,c,d'];
  const [from, to] = [200, 230];
  const shift = 5 / Math.SQRT2;
  for (let i = 0; i < 290; i += 1) {
    const x = [random.normal(), random.normal(), random.normal(), random.normal()];
    if (i >= from && i < to) {
      x[0]! += shift;
      x[2]! -= shift;
    }
    rows.push(x.map((v) => v.toFixed(4)).join(','));
  }
  return { csv: rows.join('\n'), from, to };
}

describe('agentwatch score', () => {
  test('a step held for 30 rows stays FIRING for at least 90 % of them (the mean of the last rows decides recovery)', async () => {
    let firing = 0;
    let rows = 0;
    let afterwards = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const { csv, from, to } = heldStepCsv(seed);
      const out = await score(csv);
      for (let i = from; i < to; i += 1) if (out[i]!.firing) firing += 1;
      rows += to - from;
      if (out.at(-1)!.firing) afterwards += 1;
    }
    assert.ok(firing >= 0.9 * rows, `FIRING in ${firing} of ${rows} step rows`);
    assert.equal(afterwards, 0, 'every incident resolved once the step ended');
  });

  test('one line per row in order; warm-up rows are never flagged; a joint shift is, with its contributions', async () => {
    const out = await score(windowsCsv(), ['--warmup', '40']);
    assert.deepEqual(
      out.map((o) => o.index),
      [...Array(80).keys()],
    );
    for (const o of out.slice(0, 40)) assert.deepEqual([o.score, o.anomaly], [null, false]);
    assert.deepEqual(
      out.filter((o) => o.anomaly).map((o) => o.index),
      [70],
    );
    const shifted = out[70]!;
    assert.deepEqual(
      Object.keys(shifted.contributions),
      ['rate', 'latency', 'size'],
      'the numeric columns; the window name is ignored',
    );
    const sum = Object.values(shifted.contributions).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - shifted.score!) < 1e-9 * shifted.score!, 'contributions sum to the score');
    assert.ok(
      shifted.contributions.rate! + shifted.contributions.latency! > 0.9 * shifted.score!,
      'rate and latency drive it',
    );
  });

  test('JSONL gives the same results as CSV; --columns selects; WARMUP_ROWS sets the warm-up, --warmup wins', async () => {
    const csv = windowsCsv();
    const [header, ...lines] = csv.split('\n');
    const names = header!.split(',');
    const jsonl = lines
      .map((l) => JSON.stringify(Object.fromEntries(l.split(',').map((v, i) => [names[i], i === 0 ? v : Number(v)]))))
      .join('\n');
    assert.deepEqual(await score(jsonl, ['--warmup', '40']), await score(csv, ['--warmup', '40']));
    const selected = await score(csv, ['--columns', 'latency,rate', '--warmup', '40']);
    assert.deepEqual(Object.keys(selected[70]!.contributions), ['latency', 'rate']);
    assert.equal((await score(csv, [], { WARMUP_ROWS: '50' })).filter((o) => o.score === null).length, 50);
    assert.equal(
      (await score(csv, ['--warmup', '45'], { WARMUP_ROWS: '50' })).filter((o) => o.score === null).length,
      45,
    );
  });

  test('bad input is a clear error naming the line and column', async () => {
    const expectError = async (text: string, args: string[], code: string, message: RegExp) => {
      await assert.rejects(
        score(text, args),
        (err: unknown) => err instanceof AgentwatchError && err.code === code && message.test(err.message),
      );
    };
    await expectError(
      'a,b\n1,2\n3,oops\n',
      [],
      'AW_SCORE_INPUT_INVALID',
      /^line 3, column "b": "oops" is not a number$/,
    );
    await expectError('a,b\n1,2\n3\n', [], 'AW_SCORE_INPUT_INVALID', /^line 3: 1 cells, but the header has 2 columns$/);
    await expectError('{"a": 1}\n{"a": \n', [], 'AW_SCORE_INPUT_INVALID', /^line 2: not valid JSON/);
    await expectError('{"a": 1, "b": 2}\n{"a": 3}\n', [], 'AW_SCORE_INPUT_INVALID', /^line 2: column "b" is missing$/);
    await expectError(
      'a,b\n1,2\n',
      ['--columns', 'a,c'],
      'AW_DETECT_FEATURE_UNKNOWN',
      /"c", not in the input; columns: a, b/,
    );
    assert.throws(() => parseScoreArguments(['--warmup', 'ten']), /--warmup ten: give a whole number/);
    assert.throws(() => parseScoreArguments(['--frobnicate']), /unknown flag --frobnicate/);
  });

  test('from stdin through the real command: output on stdout, bad input exits 2 with the message on stderr', () => {
    const ok = spawnSync(process.execPath, [cli, 'score', '--warmup', '2'], {
      input: 'x\n1\n2\n3\n',
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim().split('\n').length, 3);
    const bad = spawnSync(process.execPath, [cli, 'score'], {
      input: 'x,y\n1,2\n1,z\n',
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /AW_SCORE_INPUT_INVALID: line 3, column "y": "z" is not a number/);
  });
});
