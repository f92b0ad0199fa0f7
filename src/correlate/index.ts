// The correlate stage: the event clock, request ↔ answer matching, retries, timeouts; and the sink interface.
export { Correlator } from './correlator.js';
export type { CorrelatorOptions, CorrelatorStats, TaskRef, TaskTimeout } from './correlator.js';
export { EventClock } from './event-clock.js';
export type { ClockSkew, EventClockOptions } from './event-clock.js';
export { ClockFindings } from './clock-findings.js';
export type { ClockFinding } from './clock-findings.js';
export type { CorrelatedBatch, EventSink } from './event-sink.js';
export { OrderedTable, type Ordered } from './ordered-table.js';
