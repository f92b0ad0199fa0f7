// The benchmark's stage breakdown charges each CPU-profile sample to the innermost frame that
// belongs to a stage; a wrong attribution would point at the wrong bottleneck.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { timeByStage } from '../../../bench/e2e/cpu-profile.js';

test('samples go to the innermost stage on their stack; native leaves to their caller; the rest is other', () => {
  const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({
    id,
    callFrame: { functionName, url },
    children,
  });
  const profile = {
    nodes: [
      frame(1, '(root)', '', [2, 7, 8]),
      frame(2, 'onBatch', 'file:///app/dist/src/ingest/agent-tap.js', [3, 5]),
      frame(3, 'decode', 'file:///app/dist/src/decode/record-decoder.js', [4]),
      frame(4, 'parse', ''), // JSON.parse: native, no url
      frame(5, 'accept', 'file:///app/dist/src/audit/audit-writer.js', [6]),
      frame(6, 'command', 'file:///app/node_modules/@clickhouse/client/dist/client.js'),
      frame(7, '(garbage collector)', ''),
      frame(8, 'timer', 'node:internal/timers'),
    ],
    samples: [4, 4, 3, 6, 5, 2, 7, 8],
    timeDeltas: [1000, 1000, 1000, 2000, 1000, 500, 3000, 250],
  };
  const dir = mkdtempSync(join(tmpdir(), 'aw-profile-'));
  try {
    writeFileSync(join(dir, 'p.cpuprofile'), JSON.stringify(profile));
    assert.deepEqual(timeByStage(join(dir, 'p.cpuprofile')), {
      decode: 0.003,
      'audit insert (ClickHouse client, chdb)': 0.002,
      'audit rows + hash chain': 0.001,
      'pipeline + tap': 0.0005,
      'garbage collection': 0.003,
      other: 0.00025,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
