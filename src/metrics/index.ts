export { AgentwatchMetrics, type BatchObservation, type MetricSources } from './agentwatch-metrics.js';
