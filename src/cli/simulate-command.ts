// `agentwatch simulate`: runs the A2A agent fleet on the configured Kafka until the scenario's
// duration has passed (in event time) or until SIGINT/SIGTERM.

import type { Config } from '../config/index.js';
import { createSchemaRegistry } from '../decode/index.js';
import { createKafka } from '../ingest/index.js';
import type { Logger } from '../logger.js';
import {
  acceleratedSettings,
  FleetSimulator,
  loadScenario,
  parseDuration,
  parseFault,
  scenarioError,
  validateScenario,
  type Scenario,
} from '../sim/index.js';
import { AgentwatchError } from '../errors.js';

export const SIMULATE_USAGE =
  'agentwatch simulate [--scenario FILE] [--duration 20m] [--speed 30] [--rate 5] [--fault KIND:AGENT:AT:DURATION]...';

export function parseSimulateArguments(args: readonly string[]): Scenario {
  const problems: string[] = [];
  const scenarioIndex = args.indexOf('--scenario');
  const scenario = loadScenario(scenarioIndex >= 0 ? args[scenarioIndex + 1] : undefined, problems);
  for (let i = 0; i < args.length; i += 1) {
    const flag = args[i]!;
    const value = args[i + 1];
    if (value === undefined && flag.startsWith('--'))
      throw new AgentwatchError('AW_CLI_USAGE', `${flag} needs a value; usage: ${SIMULATE_USAGE}`);
    i += 1;
    if (flag === '--scenario') continue;
    if (flag === '--duration')
      scenario.durationMs = parseDuration(value!) ?? (problems.push(`--duration ${value}: a duration like 20m`), 0);
    else if (flag === '--speed') scenario.speed = Number(value);
    else if (flag === '--rate') scenario.workflowsPerSecond = Number(value);
    else if (flag === '--fault') {
      const fault = parseFault(value!, problems);
      if (fault !== undefined) scenario.faults.push(fault);
    } else throw new AgentwatchError('AW_CLI_USAGE', `unknown argument ${flag}; usage: ${SIMULATE_USAGE}`);
  }
  validateScenario(scenario, problems);
  if (problems.length > 0) throw scenarioError(problems);
  return scenario;
}

export async function runSimulate(
  scenario: Scenario,
  config: Config,
  logger: Logger,
  stop: AbortSignal,
): Promise<number> {
  // Accelerated runs start in the past, so that record timestamps never run ahead of the wall clock.
  const startEventTime = scenario.speed > 1 && scenario.durationMs > 0 ? Date.now() - scenario.durationMs : Date.now();
  const simulator = new FleetSimulator(
    createKafka(config.kafka, logger),
    createSchemaRegistry(config.schemaRegistry),
    scenario,
    logger,
    { startEventTime },
  );
  await simulator.start();
  if (scenario.speed !== 1) {
    logger.info(
      acceleratedSettings(scenario.speed, startEventTime, Date.now()),
      'the fleet runs on an accelerated clock: give agentwatch these options, so that its records are on time and a pause of the fleet is not a timeout',
    );
  }
  const progress = setInterval(() => logger.info(simulator.snapshot(), 'simulator progress'), 10_000);
  await Promise.race([
    simulator.done,
    new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true })),
  ]);
  clearInterval(progress);
  logger.info(simulator.snapshot(), 'simulator finished');
  await simulator.stop();
  return 0;
}
