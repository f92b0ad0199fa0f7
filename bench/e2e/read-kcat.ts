// The native baseline: kcat (librdkafka) as a balanced consumer in its own group, reading the
// benchmark topics from the beginning until every assigned partition reached its end (-e). Only a
// newline is printed per record, counted here to check that every record was read.

import { spawn } from 'node:child_process';

export async function readWithKcat(
  brokers: string,
  topics: readonly string[],
  expected: number,
): Promise<{ records: number; seconds: number }> {
  const args = [
    '-C',
    '-b',
    brokers,
    '-G',
    `bench-kcat-${process.pid}-${Date.now()}`,
    '-X',
    'auto.offset.reset=earliest',
    '-e',
    '-q',
    '-f',
    '\\n',
    ...topics,
  ];
  const started = performance.now();
  const child = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let records = 0;
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i += 1) if (chunk[i] === 10) records += 1;
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    errors += text;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`could not run kcat (Debian package kcat): ${err.message}`)));
    child.once('close', resolve);
  });
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0 || records !== expected)
    throw new Error(`kcat exited with ${code} after ${records} of ${expected} records: ${errors.slice(-1000)}`);
  return { records, seconds };
}
