// Runs one measurement in a fresh Node process (its own heap, JIT and RSS) and returns the JSON
// object it prints on its last line of stdout. Its stderr passes through, so progress stays visible.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export async function runChild<T>(
  script: string,
  args: readonly string[],
  options: { nodeArgs?: readonly string[]; env?: Record<string, string> } = {},
): Promise<T> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), path, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...options.env },
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const last = out.trim().split('\n').at(-1) ?? '';
  if (code !== 0) throw new Error(`${script} exited with ${code}; its output ended with: ${out.slice(-2000)}`);
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${script} did not print a JSON result; its output ended with: ${out.slice(-2000)}`);
  }
}

/** Progress for long steps, on stderr so stdout stays the result. */
export function progress(message: string): void {
  process.stderr.write(`  · ${message}\n`);
}
