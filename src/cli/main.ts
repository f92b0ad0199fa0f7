#!/usr/bin/env node
// The agentwatch command line: parses the command, loads the Config, runs the command.

import { readFileSync } from 'node:fs';
import { describeOptions, loadConfig } from '../config/index.js';
import { AgentwatchError, exitCodeOf, isAgentwatchError, messageOf } from '../errors.js';
import { createLogger } from '../logger.js';
import { checkDependencies, runService } from '../service.js';
import { parseScoreArguments, runScore, SCORE_USAGE } from './score-command.js';
import { parseVerifyArguments, runVerify, VERIFY_USAGE } from './verify-command.js';
import { parseSimulateArguments, runSimulate, SIMULATE_USAGE } from './simulate-command.js';
import { runDemo } from './demo-command.js';
import { FAULT_EFFECTS, FAULT_KINDS, parseDuration } from '../sim/index.js';
import { createClickHouseClient, createRedactor, migrate } from '../audit/index.js';
import { RecordDecoder, registrySchemaSource } from '../decode/index.js';
import { createKafka } from '../ingest/index.js';

const COMMANDS: ReadonlyArray<{ name: string; summary: string }> = [
  { name: 'run', summary: 'Run the service against the configured Kafka, schema registry and ClickHouse.' },
  { name: 'check', summary: 'Ask Kafka, the schema registry and ClickHouse for an answer each; exit 1 if one fails.' },
  { name: 'score', summary: 'Score window feature rows (CSV or JSONL, file or stdin) offline; one JSON line per row.' },
  { name: 'migrate', summary: 'Create or upgrade the audit tables in ClickHouse (run also runs it at start).' },
  {
    name: 'verify',
    summary:
      'Recompute the audit hash chain (in Node, or --sql in ClickHouse); --checkpoints and --against-kafka check it against Kafka; report the first altered, deleted or inserted row; exit 1 if any.',
  },
  {
    name: 'simulate',
    summary: 'Run an A2A agent fleet (dispatcher + workers) on the configured Kafka, with fault injection.',
  },
  {
    name: 'demo',
    summary: 'agentwatch plus a simulated fleet with two faults: alerts, a compliance query, the API; Ctrl-C stops.',
  },
];

export function helpText(): string {
  const options = describeOptions();
  const width = Math.max(...options.map((o) => o.name.length));
  const lines = [
    'agentwatch: watchdog and flight recorder for AI agent fleets on Kafka.',
    '',
    'Usage: agentwatch <command> [--help]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(10)}${c.summary}`),
    '',
    `Usage of score: ${SCORE_USAGE}`,
    '  FILE|-          input file (.csv with a header row, or .jsonl); - or none: stdin',
    '  --columns a,b   columns to score (default: every numeric column of the first row)',
    '  --warmup N      leading rows that fit the initial baseline and are never flagged',
    '                  (default: WARMUP_ROWS, else DETECT_WARMUP_WINDOWS)',
    '  --format F      csv or jsonl (default: from the file name, else from the first line)',
    '  Output per row: {"index", "score", "threshold", "anomaly", "contributions"}; score is null while warming up.',
    '',
    `Usage of verify: ${VERIFY_USAGE}`,
    '  default: every stored topic-partition, from its first stored row to its last',
    '  --checkpoints   also check the rows against the checkpoints published to CHECKPOINTS_TOPIC',
    '  Output: one JSON report per partition {ok, rowsChecked, problem: {kind: altered|gap|link, offset}}.',
    '',
    `Usage of simulate: ${SIMULATE_USAGE}`,
    '  --duration D    event time to run (e.g. 20m; default: until stopped)',
    '  --speed S       event time runs S times faster than the clock (default 1)',
    '  --rate R        workflows per second of event time (default 5)',
    '  --fault F       KIND:AGENT:AT:DURATION, e.g. latency-x4:summarize:6m:4m (repeatable); kinds:',
    ...FAULT_KINDS.map((kind) => `                    ${kind.padEnd(14)} ${FAULT_EFFECTS[kind]}`),
    '  --scenario FILE JSON with the same fields (capabilities, faults, ...); flags win',
    '',
    'Usage of demo: agentwatch demo [--duration 16m] [--speed 30]   (scripts/demo.sh starts the stack first)',
    '',
    'Options: from the environment, or a JSON file named by AGENTWATCH_CONFIG (the environment wins).',
    ...options.map((o) => `  ${o.name.padEnd(width)}  ${o.description} [${o.type}; default ${o.default}]`),
    '',
    'Exit codes: 0 success, 1 runtime failure, 2 bad command line, configuration or input, 3 Kafka refused the credentials or ACLs (docs/errors.md lists every error code).',
  ];
  return lines.join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (
    command === undefined ||
    command === '--help' ||
    command === '-h' ||
    command === 'help' ||
    rest.includes('--help') ||
    rest.includes('-h')
  ) {
    process.stdout.write(`${helpText()}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (!COMMANDS.some((c) => c.name === command)) {
    throw new AgentwatchError(
      'AW_CLI_USAGE',
      `unknown command ${JSON.stringify(command)}; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see agentwatch --help).`,
    );
  }
  if (command === 'score') {
    const args = parseScoreArguments(rest);
    return runScore(args, loadConfig(), process.stdin, process.stdout, process.stderr);
  }
  if (command === 'demo') {
    const durationIndex = rest.indexOf('--duration');
    const speedIndex = rest.indexOf('--speed');
    const durationMs = durationIndex >= 0 ? parseDuration(rest[durationIndex + 1] ?? '') : 16 * 60_000;
    const speed = speedIndex >= 0 ? Number(rest[speedIndex + 1]) : 30;
    if (durationMs === undefined || durationMs < 8 * 60_000 || !(speed > 0 && speed <= 600)) {
      throw new AgentwatchError(
        'AW_CLI_USAGE',
        'demo: --duration must be at least 8m (the baselines learn for 5), --speed between 1 and 600',
      );
    }
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return runDemo(
      {
        durationMs,
        speed,
        logFile: `${process.env.AGENTWATCH_DEMO_DIR ?? '.stack/demo'}/agentwatch-${stamp}.log`,
        dataDir: process.env.CLICKHOUSE_DATA_DIR ?? `${process.env.AGENTWATCH_DEMO_DIR ?? '.stack/demo'}/clickhouse`,
      },
      process.stdout,
      stop.signal,
    );
  }
  if (command === 'simulate') {
    const scenario = parseSimulateArguments(rest);
    const config = loadConfig();
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    return runSimulate(scenario, config, createLogger(config.logLevel), stop.signal);
  }
  if (command === 'verify') {
    const args = parseVerifyArguments(rest);
    const config = loadConfig();
    const client = await createClickHouseClient(config.clickhouse);
    try {
      return await runVerify(
        args,
        client,
        () => createKafka(config.kafka, createLogger('warn')),
        config.topics.checkpoints,
        process.stdout,
        () => ({
          kafka: createKafka(config.kafka, createLogger('warn')),
          decoder: new RecordDecoder(registrySchemaSource(config.schemaRegistry), {
            maxPayloadBytes: config.ingest.maxPayloadBytes,
          }),
          redact: createRedactor(config.audit.redactPaths, config.audit.unparsedPayload),
        }),
      );
    } finally {
      await client.close();
    }
  }
  if (rest.length > 0) {
    throw new AgentwatchError(
      'AW_CLI_USAGE',
      `'agentwatch ${command}' takes no arguments, got ${JSON.stringify(rest.join(' '))}; options come from the environment (see agentwatch --help).`,
    );
  }
  const config = loadConfig();
  const logger = createLogger(config.logLevel);

  if (command === 'migrate') {
    const client = await createClickHouseClient(config.clickhouse);
    try {
      process.stdout.write(`${JSON.stringify(await migrate(client, { retentionDays: config.audit.retentionDays }))}\n`);
    } finally {
      await client.close();
    }
    return 0;
  }

  if (command === 'check') {
    const report = await checkDependencies(config, logger);
    process.stdout.write(`${JSON.stringify({ ok: true, ...report })}\n`);
    return 0;
  }

  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'signal received');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await runService(config, logger, stop.signal);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const code = isAgentwatchError(err) ? err.code : 'AW_UNEXPECTED';
    // The error's own retryable flag: an outage (trying again later may succeed) or not.
    const hint = isAgentwatchError(err) && err.retryable ? ' (transient: trying again later may succeed)' : '';
    process.stderr.write(`agentwatch: ${code}: ${messageOf(err)}${hint}\n`);
    process.exitCode = exitCodeOf(err);
  },
);
