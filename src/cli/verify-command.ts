// `agentwatch verify`: recomputes the audit hash chain of every stored topic-partition (or one
// range): in Node by default, or by ClickHouse alone with --sql. With --checkpoints it checks the
// stored rows against the checkpoints published to Kafka, and with --against-kafka against the
// records themselves (while Kafka retains them). One JSON line per check; exit 1 when any fails.

import type { Writable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import {
  readCheckpoints,
  storedPartitions,
  verifyCheckpoints,
  verifyPartition,
  verifyPartitionInSql,
  type Redactor,
  type VerifyRange,
} from '../audit/index.js';
import type { RecordDecoder } from '../decode/index.js';
import { AgentwatchError } from '../errors.js';
import { checkAgainstKafka } from './verify-against-kafka.js';

export const VERIFY_USAGE =
  'agentwatch verify [--topic T --partition P] [--from OFFSET] [--to OFFSET] [--sql] [--checkpoints] [--against-kafka]';

/** What --against-kafka reads and decodes with: the service's own Kafka, decoder and redaction. */
export interface SourceAccess {
  kafka: Kafka;
  decoder: RecordDecoder;
  redact: Redactor;
}

export interface VerifyArguments {
  topic: string | undefined;
  partition: number | undefined;
  from: string | undefined;
  to: string | undefined;
  checkpoints: boolean;
  sql: boolean;
  againstKafka: boolean;
}

export function parseVerifyArguments(args: readonly string[]): VerifyArguments {
  const parsed: VerifyArguments = {
    topic: undefined,
    partition: undefined,
    from: undefined,
    to: undefined,
    checkpoints: false,
    sql: false,
    againstKafka: false,
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
    else if (flag === '--sql') parsed.sql = true;
    else if (flag === '--against-kafka') parsed.againstKafka = true;
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
  source?: () => SourceAccess,
): Promise<number> {
  const ranges: VerifyRange[] =
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
    const report = args.sql ? await verifyPartitionInSql(client, range) : await verifyPartition(client, range);
    ok &&= report.ok;
    out.write(`${JSON.stringify(report)}\n`);
  }
  if (args.againstKafka) {
    if (source === undefined) throw new AgentwatchError('AW_CLI_USAGE', '--against-kafka needs Kafka access');
    const access = source();
    for (const topic of new Set(ranges.map((r) => r.topic))) {
      const reports = await checkAgainstKafka(
        access.kafka,
        client,
        access.decoder,
        access.redact,
        topic,
        ranges.filter((r) => r.topic === topic),
      );
      for (const report of reports) {
        ok &&= report.ok;
        out.write(`${JSON.stringify({ againstKafka: true, ...report })}\n`);
      }
    }
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
