// The config stage: one validated Config from the environment and an optional file.
export { loadConfig, describeOptions } from './config.js';
export { configurationMarkdown } from './configuration-docs.js';
export type {
  AlertDeliveryConfig,
  ApiConfig,
  ApiKeyConfig,
  ApiRole,
  AuditConfig,
  Config,
  CorrelateConfig,
  DetectConfig,
  EventTimeConfig,
  GroupWatchConfig,
  IngestConfig,
  SinksConfig,
  TopicsConfig,
  KafkaConfig,
  SchemaRegistryConfig,
  ClickHouseConfig,
  SaslMechanism,
  LogLevel,
  UnparsedPayloadPolicy,
} from './config.js';
export type { OptionDoc } from './option-reader.js';
