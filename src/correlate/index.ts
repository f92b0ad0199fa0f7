// The correlate stage: request ↔ answer matching, retries, timeouts; and the sink interface.
export { Correlator } from './correlator.js';
export type { CorrelatorOptions, CorrelatorStats, TaskRef, TaskTimeout } from './correlator.js';
export { EventClock } from './event-clock.js';
export type { CorrelatedBatch, EventSink } from './event-sink.js';
export { OrderedTable } from './ordered-table.js';
