// Data flows one way (DESIGN.md): ingest → decode → correlate → detect/audit → alert/api. This test
// reads every import in src/ and fails when a stage imports one it may not.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const src = join(root, 'src');

// Folder → the src folders it may import from. Of the files at src/ top level, errors.ts and
// logger.ts are shared by all; service.ts, pipeline.ts and cli/ compose the stages and may import
// everything, and no stage may import them.
const SHARED_TOP_LEVEL = new Set(['errors.ts', 'logger.ts']);
const ALLOWED: Record<string, readonly string[]> = {
  config: [],
  ingest: ['config', 'decode'],
  decode: ['config'],
  correlate: ['decode'],
  detect: ['config', 'correlate', 'decode'],
  alert: ['config', 'detect', 'decode'],
  audit: ['config', 'decode', 'correlate'],
  api: ['config', 'audit', 'detect', 'decode', 'correlate'],
  sim: ['config', 'decode', 'detect'],
  metrics: [],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

test('no stage imports a stage it may not', () => {
  const violations: string[] = [];
  for (const file of sourceFiles(src)) {
    const [stage, ...rest] = relative(src, file).split(sep);
    if (rest.length === 0 || stage === 'cli' || stage === undefined) continue;
    const allowed = ALLOWED[stage];
    assert.ok(allowed, `src/${stage}/ is not a known stage; add it to ALLOWED with its permitted imports`);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const target = relative(src, join(file, '..', match[1]!)).split(sep);
      const targetFile = target.join('/').replace(/\.js$/, '.ts');
      if (target.length === 1 && SHARED_TOP_LEVEL.has(targetFile)) continue;
      const targetStage = target.length > 1 ? target[0]! : targetFile;
      if (targetStage === stage) continue;
      if (!allowed.includes(targetStage)) {
        violations.push(
          `${relative(src, file)} imports ${match[1]} (${stage} may import: ${allowed.join(', ') || 'nothing of ours'})`,
        );
      }
    }
  }
  assert.deepEqual(violations, []);
});

// Project-wide checks, whose subject is no one module.
const PROJECT_CHECKS = new Set(['architecture', 'docs', 'lint']);

test('every unit test is named after the module it tests (test/unit mirrors src/)', () => {
  const unit = join(root, 'test', 'unit');
  const strays: string[] = [];
  for (const file of sourceFiles(unit)) {
    const [dir, ...rest] = relative(unit, file).split(sep);
    // A qualifier may follow the stem: detector.realistic-fleet.test.ts tests src/detect/detector.ts.
    const stem = (rest.at(-1) ?? dir!).split('.')[0]!;
    const candidates =
      rest.length === 0
        ? [join(src, `${stem}.ts`)]
        : dir === 'fixtures'
          ? [join(root, 'test', 'fixtures', `${stem}.ts`)]
          : dir === 'bench'
            ? sourceFiles(join(root, 'bench')).filter((f) => f.endsWith(`${sep}${stem}.ts`))
            : [join(src, dir!, `${stem}.ts`)];
    if (rest.length === 0 && PROJECT_CHECKS.has(stem)) continue;
    if (!candidates.some((c) => existsSync(c))) strays.push(relative(root, file));
  }
  assert.deepEqual(strays, [], 'name each test after the module it tests (src/<stage>/<stem>.ts)');
});

test('bench/ does not import test/: the fleet model and the local stack are shared from src/sim and bench/', () => {
  const offenders = sourceFiles(join(root, 'bench')).filter((file) =>
    [...readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)].some((m) =>
      relative(root, join(file, '..', m[1]!)).startsWith(`test${sep}`),
    ),
  );
  assert.deepEqual(
    offenders.map((f) => relative(root, f)),
    [],
  );
});
