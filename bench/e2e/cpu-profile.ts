// Where the main thread's time went, by stage of the data path, from a V8 CPU profile
// (node --cpu-prof). Each sample is charged to the innermost frame on its stack that belongs to a
// stage, so JSON.parse called by the decoder counts as decode, and a socket write by kafkajs as
// fetch. Native work outside JavaScript (the embedded ClickHouse engine's own threads) is not on
// this thread and shows only in the process's CPU time.

import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const STAGES: Array<[string, (url: string, fn: string) => boolean]> = [
  ['commit', (url) => /kafkajs\/src\/(consumer\/offsetManager|protocol\/requests\/offsetCommit)/.test(url)],
  ['fetch/parse (kafkajs)', (url) => url.includes('/kafkajs/')],
  ['decode', (url) => url.includes('/dist/src/decode/')],
  ['correlate', (url) => url.includes('/dist/src/correlate/')],
  ['detect', (url) => url.includes('/dist/src/detect/')],
  ['audit insert (ClickHouse client, chdb)', (url) => /\/(@clickhouse|chdb)\//.test(url)],
  ['audit rows + hash chain', (url) => url.includes('/dist/src/audit/')],
  ['pipeline + tap', (url) => /\/dist\/src\/(pipeline|ingest\/)/.test(url)],
  ['metrics', (url) => url.includes('/dist/src/metrics/') || url.includes('/prom-client/')],
  ['logging', (url) => url.includes('/pino')],
  ['garbage collection', (_, fn) => fn === '(garbage collector)'],
  ['idle', (_, fn) => fn === '(idle)'],
];

/** Seconds of main-thread time per stage; what matches no stage is 'other'. */
export function timeByStage(file: string): Record<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const stageOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = stageOf.get(id);
    if (known !== undefined) return known;
    const { url, functionName } = byId.get(id)!.callFrame;
    const own = STAGES.find(([, matches]) => matches(url, functionName))?.[0];
    const up = parent.get(id);
    const stage = own ?? (up === undefined ? 'other' : classify(up));
    stageOf.set(id, stage);
    return stage;
  };
  const seconds: Record<string, number> = {};
  profile.samples.forEach((id, i) => {
    const stage = classify(id);
    seconds[stage] = (seconds[stage] ?? 0) + (profile.timeDeltas[i] ?? 0) / 1e6;
  });
  return seconds;
}
