// The detect stage: window features, per-agent baselines, Mahalanobis scoring, explanations, hysteresis.
export { Baseline } from './baseline.js';
export type { BaselineOptions, ScoreParts } from './baseline.js';
export { WindowScorer } from './window-scorer.js';
export type { ScorerOptions, WindowScore } from './window-scorer.js';
export { scorerOptions } from './scorer-options.js';
export { ScoreDistribution, Threshold, severityOf } from './threshold.js';
export type { Severity, ThresholdMode, ThresholdOptions } from './threshold.js';
export { IncidentTracker } from './incident-tracker.js';
export type { AlertState, AlertTransition, Resolution, TrackerOptions } from './incident-tracker.js';
export { AgentProfile } from './agent-profile.js';
export { binomialZ, meanZ, normalQuantile, normalSurvival, poissonZ } from './evidence.js';
export { FEATURES, FEATURE_NAMES } from './features.js';
export type { FeatureDefinition, FeatureName } from './features.js';
export { chiSquareCdf, chiSquareQuantile, chiSquareSurvival } from './chi-square.js';
export { Detector } from './detector.js';
export type { AgentSnapshot, AnomalyAlert, DetectorStats, FeatureExplanation, WindowReport } from './detector.js';
export { DetectorSink } from './detector-sink.js';
export type { AlertDelivery, WindowObserver } from './detector-sink.js';
