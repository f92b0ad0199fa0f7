// The sim stage: the fleet model. One vocabulary of faults and their effects (faults.ts), seeded
// random streams (random.ts), and two fleets built on them: an A2A-over-Kafka fleet on a real broker
// (fleet-simulator.ts, for the demo, tests and `agentwatch simulate`) and a heterogeneous fleet
// generated in memory as decoded events, with its truth (realistic-fleet.ts, for detection tests and
// bench/detection), whose records fleet-records.ts puts on Kafka.
export { acceleratedSettings, LATENESS_WALL_MS, TTL_WALL_MS } from './accelerated-clock.js';
export { FleetSimulator } from './fleet-simulator.js';
export type { SimulatorStats } from './fleet-simulator.js';
export {
  DEFAULT_CAPABILITIES,
  activeEffects,
  defaultScenario,
  loadScenario,
  parseDuration,
  parseFault,
  scenarioError,
  validateScenario,
} from './scenario.js';
export type { CapabilityProfile, Fault, Scenario, WireFormat } from './scenario.js';
export {
  FAULT_EFFECTS,
  FAULT_KINDS,
  WORKER_FAULT_KINDS,
  applyFault,
  normalConditions,
  rateFactor,
  tailMultiplier,
} from './faults.js';
export type { AttemptConditions, FaultKind } from './faults.js';
export { lognormal, seededRandom, streamSeed, unseededRandom } from './random.js';
export type { Random } from './random.js';
export {
  DEFAULT_FLEET_START,
  fleetProfiles,
  generateFleet,
  randomFaultPlan,
  tailFaultMedianMs,
  tailFaultShareBeyond,
} from './realistic-fleet.js';
export type { FleetFault, FleetOptions, FleetProfile, FleetRun } from './realistic-fleet.js';
export { fleetRecord } from './fleet-records.js';
export type { FleetRecord } from './fleet-records.js';
