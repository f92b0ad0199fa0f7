// The alert stage: Avro alerts to the anomalies topic; delivery from that topic to webhooks and
// Alertmanager (each its own consumer group), silences, and the live feed for streaming clients.
export { AlertPublisher, ANOMALY_ALERT_SCHEMA, fromAvro, toAvro } from './alert-publisher.js';
export type { AvroAlert, PublishedAlert } from './alert-publisher.js';
export { AlertStream } from './alert-stream.js';
export type { AlertListener } from './alert-stream.js';
export { AlertFeed, formatPosition, parsePosition } from './alert-feed.js';
export type { FeedEntry, FeedGap, FeedListener, FeedPosition } from './alert-feed.js';
export {
  alertAnnotations,
  alertLabels,
  alertLinks,
  fingerprintOf,
  toAlertmanagerAlert,
  toWebhookBody,
} from './alert-labels.js';
export type { AlertLabels, AlertmanagerAlert, WebhookBody } from './alert-labels.js';
export { AlertmanagerDestination } from './alertmanager-destination.js';
export { DeliveryChannel } from './delivery-channel.js';
export type { AlertDestination, DeadLetter, DeliveryObserver } from './delivery-channel.js';
export { DeliveryFailure, safeUrl } from './http-post.js';
export { SilenceBook, compileMatcher, MAX_MATCHER_PATTERN } from './silences.js';
export type { Silence, SilenceMatcher } from './silences.js';
export { SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookDestination, webhookSignature } from './webhook-destination.js';
export { ERROR_PAGES_AFTER, GroupAlerts } from './group-alerts.js';
export type { GroupReport } from './group-alerts.js';
export { serveAlertStream } from './stream-session.js';
export type { StreamFilter } from './stream-session.js';
