// `agentwatch verify`: recomputes the audit hash chain of every stored topic-partition (or one
// range), and with --checkpoints checks the stored rows against the checkpoints published to Kafka.
// One JSON line per partition; exit 1 when any link is broken.

import type { Writable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { readCheckpoints, storedPartitions, verifyCheckpoints, verifyPartition } from '../audit/index.js';
import { AgentwatchError } from '../errors.js';

export const VERIFY_USAGE = 'agentwatch verify [--topic T --partition P] [--from OFFSET] [--to OFFSET] [--checkpoints]';

export interface VerifyArguments {
  topic: string | undefined;
  partition: number | undefined;
  from: string | undefined;
  to: string | undefined;
  checkpoints: boolean;
}

export function parseVerifyArguments(args: readonly string[]): VerifyArguments {
  const parsed: VerifyArguments = {
    topic: undefined,
    partition: undefined,
    from: undefined,
    to: undefined,
    checkpoints: false,
  };
  for (let i = 0; i < args.length; i += 1) {
    const flag = args[i]!;
    const value = (pattern: RegExp, what: string): string => {
      const v = args[++i];
      if (v === undefined || !pattern.test(v))
        throw new AgentwatchError('AW_CLI_USAGE', `${flag} needs ${what}; usage: ${VERIFY_USAGE}`);
      return v;
    };
    if (flag === '--topic') parsed.topic = value(/^[A-Za-z0-9._-]+$/, 'a topic name');
    else if (flag === '--partition') parsed.partition = Number(value(/^\d+$/, 'a partition number'));
    else if (flag === '--from') parsed.from = value(/^\d+$/, 'an offset');
    else if (flag === '--to') parsed.to = value(/^\d+$/, 'an offset');
    else if (flag === '--checkpoints') parsed.checkpoints = true;
    else throw new AgentwatchError('AW_CLI_USAGE', `unknown argument ${flag}; usage: ${VERIFY_USAGE}`);
  }
  if ((parsed.topic === undefined) !== (parsed.partition === undefined)) {
    throw new AgentwatchError('AW_CLI_USAGE', `--topic and --partition go together; usage: ${VERIFY_USAGE}`);
  }
  if ((parsed.from !== undefined || parsed.to !== undefined) && parsed.topic === undefined) {
    throw new AgentwatchError('AW_CLI_USAGE', `--from/--to need --topic and --partition; usage: ${VERIFY_USAGE}`);
  }
  return parsed;
}

/** Returns the exit code: 0 when every chain (and checkpoint) verifies, 1 otherwise. */
export async function runVerify(
  args: VerifyArguments,
  client: ClickHouseClient,
  kafka: () => Kafka,
  checkpointsTopic: string,
  out: Writable,
): Promise<number> {
  const ranges =
    args.topic !== undefined
      ? [
          {
            topic: args.topic,
            partition: args.partition!,
            ...(args.from === undefined ? {} : { fromOffset: args.from }),
            ...(args.to === undefined ? {} : { toOffset: args.to }),
          },
        ]
      : await storedPartitions(client);
  let ok = true;
  for (const range of ranges) {
    const report = await verifyPartition(client, range);
    ok &&= report.ok;
    out.write(`${JSON.stringify(report)}\n`);
  }
  if (args.checkpoints) {
    const checkpoints = (await readCheckpoints(kafka(), checkpointsTopic)).filter(
      (cp) => args.topic === undefined || (cp.topic === args.topic && cp.partition === args.partition),
    );
    const problem = await verifyCheckpoints(client, checkpoints);
    ok &&= problem === null;
    out.write(`${JSON.stringify({ checkpoints: checkpoints.length, ok: problem === null, problem })}\n`);
  }
  return ok ? 0 : 1;
}
