// The sim stage: an A2A-over-Kafka agent fleet with fault injection, for demos, tests and benchmarks.
export { FleetSimulator } from './fleet-simulator.js';
export type { SimulatorStats } from './fleet-simulator.js';
export {
  DEFAULT_CAPABILITIES,
  FAULT_KINDS,
  activeEffects,
  defaultScenario,
  loadScenario,
  parseDuration,
  parseFault,
  scenarioError,
  validateScenario,
} from './scenario.js';
export type { CapabilityProfile, Fault, FaultKind, Scenario, WireFormat } from './scenario.js';
