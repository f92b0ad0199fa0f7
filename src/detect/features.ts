// The window features scored per agent. Heavy-tailed quantities (rates, latencies, sizes) are on a
// log scale, ln(1 + v), so that a doubling counts the same at any level; ratios stay linear.

export interface FeatureDefinition {
  name: string;
  description: string;
  /** Smallest standard deviation the baseline allows for this feature (in the feature's scale). */
  sigmaFloor: number;
}

export const FEATURES = [
  { name: 'request_rate', description: 'ln(1 + requests per second)', sigmaFloor: 0.05 },
  { name: 'latency_p50', description: 'ln(1 + median answer latency in ms)', sigmaFloor: 0.05 },
  { name: 'latency_p95', description: 'ln(1 + 95th percentile answer latency in ms)', sigmaFloor: 0.05 },
  { name: 'retries_per_task', description: 'retried requests per request', sigmaFloor: 0.05 },
  { name: 'timeout_rate', description: 'timeouts per request', sigmaFloor: 0.05 },
  { name: 'failure_rate', description: 'failed answers (errors, failed/rejected states) per answer', sigmaFloor: 0.05 },
  { name: 'payload_bytes_mean', description: 'ln(1 + mean payload bytes)', sigmaFloor: 0.05 },
  { name: 'payload_bytes_p95', description: 'ln(1 + 95th percentile payload bytes)', sigmaFloor: 0.05 },
] as const satisfies readonly FeatureDefinition[];

export type FeatureName = (typeof FEATURES)[number]['name'];
export const FEATURE_NAMES: readonly FeatureName[] = FEATURES.map((f) => f.name);
