// The quality gate's linter catches what it is there for: a planted floating promise and a type
// imported as a value fail `npm run lint` (.oxlintrc.json, type-aware through oxlint-tsgolint).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const bin = (name: string) => join(repo, 'node_modules', '.bin', name);
const dir = mkdtempSync(join(tmpdir(), 'agentwatch-lint-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(
  join(dir, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: { strict: true, target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext' },
    include: ['*.ts'],
  }),
);
writeFileSync(join(dir, 'types.ts'), 'export interface Row { id: string }\n');

function lint(file: string, source: string): { status: number | null; output: string } {
  writeFileSync(join(dir, file), source);
  const run = spawnSync(bin('oxlint'), ['--type-aware', '-c', join(repo, '.oxlintrc.json'), file], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, OXLINT_TSGOLINT_PATH: bin('tsgolint') },
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('lint (npm run lint)', () => {
  test('a floating promise fails', () => {
    const result = lint(
      'floating.ts',
      'async function save(): Promise<void> {}\nexport function handler(): void {\n  save();\n}\n',
    );
    assert.equal(result.status, 1, result.output);
    assert.match(result.output, /no-floating-promises/);
  });

  test('the same promise awaited passes', () => {
    const result = lint(
      'awaited.ts',
      'async function save(): Promise<void> {}\nexport async function handler(): Promise<void> {\n  await save();\n}\n',
    );
    assert.equal(result.status, 0, result.output);
  });

  test('a type imported as a value fails', () => {
    const result = lint(
      'imports.ts',
      "import { Row } from './types.js';\nexport const id = (row: Row): string => row.id;\n",
    );
    assert.equal(result.status, 1, result.output);
    assert.match(result.output, /consistent-type-imports/);
  });
});
