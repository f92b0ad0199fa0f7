// The one validated Config of agentwatch, built at start from the environment and an optional JSON
// file (AGENTWATCH_CONFIG). The environment wins over the file. Every problem is reported at once.

import { readFileSync } from 'node:fs';
import { AgentwatchError } from '../errors.js';
import { OptionReader, type OptionDoc, type OptionSource } from './option-reader.js';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  groupId: string;
  sasl: { mechanism: SaslMechanism; username: string; password: string } | undefined;
  tls:
    | { ca: string | undefined; cert: string | undefined; key: string | undefined; rejectUnauthorized: boolean }
    | undefined;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  /** How long start-up steps retry transient Kafka errors (topics just created, coordinators moving) before failing. */
  startupTimeoutMs: number;
  sessionTimeoutMs: number;
}

export interface SchemaRegistryConfig {
  url: string;
  username: string | undefined;
  password: string | undefined;
}

export interface ClickHouseConfig {
  /** A ClickHouse server; when undefined the embedded engine (chdb) is used with dataDir. */
  url: string | undefined;
  username: string;
  password: string | undefined;
  database: string;
  dataDir: string;
  requestTimeoutMs: number;
}

export interface IngestConfig {
  /** Topics to tap: names matching this, minus agentwatch's own topics and excludeTopics. */
  topicPattern: RegExp;
  excludeTopics: string[];
  refreshIntervalMs: number;
  fromBeginning: boolean;
  maxPayloadBytes: number;
  partitionsConcurrently: number;
  maxBytesPerPartition: number;
  /**
   * Records handed to the sinks whose offsets are not committed yet (their audit insert unconfirmed),
   * across partitions. Below it, the next batches are decoded and correlated while an insert runs.
   */
  maxPendingRecords: number;
  /** /readyz answers 503 once a partition's batch has failed a step (DLQ copy, a sink) for this long. */
  stallUnreadyMs: number;
  /** Worker threads that decode records and write their audit row tails; 0: all on the main thread. */
  workers: number;
}

export interface TopicsConfig {
  dlq: string;
  anomalies: string;
  checkpoints: string;
  /** Partitions for the output topics agentwatch creates when they are missing. */
  partitions: number;
  /** Replication factor for created topics; -1 takes the broker's default. */
  replicationFactor: number;
}

export interface CorrelateConfig {
  taskTtlMs: number;
  maxInFlight: number;
  maxRecent: number;
}

export interface EventTimeConfig {
  /** A record stamped further than this ahead of the declared clock, or behind the watermark, never moves the event clock. */
  maxSkewMs: number;
  /** A caught-up partition with no record for this long (event time) stops holding the event clock back. */
  idleMs: number;
  /** A partition further ahead of event time than this is paused until the others catch up. */
  alignMs: number;
  /** Event time runs this many times faster than the wall clock (accelerated simulations declare it). */
  speed: number;
  /** The declared clock showed event time `event` at wall time `wall` (ms since the epoch); default: the wall clock. */
  anchor: { event: number; wall: number };
}

export interface SinksConfig {
  /** Append every event as NDJSON to this file (fsync per batch); undefined: off. */
  eventsFile: string | undefined;
  /** Longest backoff between retries of a failing sink or registry. */
  retryMaxMs: number;
}

export interface DetectConfig {
  windowMs: number;
  latenessMs: number;
  p: number;
  threshold: 'chi2' | 'empirical';
  fireAfter: number;
  resolveAfter: number;
  /** An open incident is cut short by chance about once in this many windows of it (sets the recovery test's threshold). */
  resolveHorizonWindows: number;
  warmupWindows: number;
  memoryWindows: number;
  /** Shrinkage pseudo-count; undefined: the number of features. */
  shrinkage: number | undefined;
  /** Feature names to score (validated by the detector); empty: all. */
  features: string[];
  maxAgents: number;
  /** Probability of the lower threshold that an incident must fall below to recover, and a window to be learned. */
  stayP: number;
  /** Above this quantile of the score, one window fires at once. */
  atOnceP: number;
  /** A window is learned only after this many later windows proved normal too. */
  learnDelayWindows: number;
  /** With nothing learned for this long (event time), the current behaviour becomes the new normal. */
  acceptAfterMs: number;
  /** Memory of the request rate baseline, in windows (short, to follow daily load cycles). */
  rateMemoryWindows: number;
  /** Memory of each capability's long-term reference for drift, in event time; 0: no drift reports. */
  driftReferenceMs: number;
  /** Most windows pooled for the evidence of a quiet agent. */
  poolWindows: number;
  /** Windows are pooled until about this many requests are expected. */
  poolMinRequests: number;
  /** Which direction of a feature alerts, by feature name (default per feature: see FEATURES). */
  directions: Record<string, 'up' | 'down' | 'both'>;
  /** Smallest change that alerts, by feature name. */
  minEffects: Record<string, number>;
  /** `agentwatch score`: leading rows that fit the initial baseline (undefined: DETECT_WARMUP_WINDOWS). */
  warmupRows: number | undefined;
}

/** store: the raw bytes (base64); hash-only: their SHA-256; drop-value: nothing but the size. */
export type UnparsedPayloadPolicy = 'store' | 'hash-only' | 'drop-value';

export interface AuditConfig {
  batchRows: number;
  flushMs: number;
  redactPaths: string[];
  /** What is stored (and copied to the DLQ) of a value that cannot be parsed, where redaction cannot apply. */
  unparsedPayload: UnparsedPayloadPolicy;
  retentionDays: number;
  checkpointIntervalMs: number;
}

export type ApiRole = 'auditor' | 'sre' | 'admin';

export interface ApiKeyConfig {
  name: string;
  roles: ApiRole[];
  key: string;
}

export interface ApiConfig {
  host: string;
  port: number;
  keys: ApiKeyConfig[];
  maxPageRows: number;
  maxExportRows: number;
  queryTimeoutMs: number;
  /** /metrics without an API key (otherwise it needs the sre role). */
  metricsPublic: boolean;
}

export interface AlertDeliveryConfig {
  /** Alertmanager base URLs (v2 API); FIRING and RESOLVED alerts are POSTed to each. */
  alertmanagerUrls: string[];
  /** FIRING alerts are sent again this often while they last (and expire at 4× this in Alertmanager). */
  alertmanagerResendMs: number;
  /** Webhook URLs; each gets alerts as Alertmanager webhook v4 JSON, signed when webhookSecret is set. */
  webhookUrls: string[];
  /** HMAC-SHA256 key of the webhook signature header; undefined: unsigned. */
  webhookSecret: string | undefined;
  /** Attempts per alert and destination before the alert becomes a dead letter. */
  maxAttempts: number;
  /** First backoff between attempts, doubled per attempt up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** One attempt's time limit. */
  requestTimeoutMs: number;
  /** Base URL of the API in links (timelines, anomalies); default: the API's own address. */
  publicUrl: string | undefined;
  /** Alerts the live stream keeps for clients that reconnect with Last-Event-ID. */
  streamBuffer: number;
  /** A comment line on an idle live stream this often, so proxies keep it open. */
  streamHeartbeatMs: number;
}

export interface GroupWatchConfig {
  /** How often the agents' consumer groups are evaluated; 0: not watched. */
  intervalMs: number;
  /** Most groups watched (bounded metric cardinality); the rest are counted. */
  maxGroups: number;
}

export interface Config {
  kafka: KafkaConfig;
  alerts: AlertDeliveryConfig;
  groups: GroupWatchConfig;
  api: ApiConfig;
  audit: AuditConfig;
  detect: DetectConfig;
  ingest: IngestConfig;
  topics: TopicsConfig;
  correlate: CorrelateConfig;
  eventTime: EventTimeConfig;
  sinks: SinksConfig;
  schemaRegistry: SchemaRegistryConfig;
  clickhouse: ClickHouseConfig;
  logLevel: LogLevel;
}

const CONFIG_FILE_VARIABLE = 'AGENTWATCH_CONFIG';

function readOptions(reader: OptionReader): Config {
  const brokers = reader.list('KAFKA_BROKERS', ['127.0.0.1:9092'], 'Kafka bootstrap brokers, host:port.');
  for (const broker of brokers) {
    const match = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(broker);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      reader.problem(`KAFKA_BROKERS: ${JSON.stringify(broker)} is not host:port (e.g. kafka-1:9092).`);
    }
  }
  if (brokers.length === 0) reader.problem('KAFKA_BROKERS is empty; name at least one broker as host:port.');
  const clientId = reader.string('KAFKA_CLIENT_ID', 'agentwatch', 'Kafka client id (shows in broker logs and quotas).');
  const groupId = reader.string(
    'KAFKA_GROUP_ID',
    'agentwatch',
    "Consumer group of agentwatch's tap; never an agent's group.",
  );

  const mechanism = reader.oneOf(
    'KAFKA_SASL_MECHANISM',
    ['none', 'plain', 'scram-sha-256', 'scram-sha-512'],
    'none',
    'SASL mechanism for the brokers.',
  );
  const saslUsername = reader.optionalString('KAFKA_SASL_USERNAME', 'SASL user name (required with a SASL mechanism).');
  const saslPassword = reader.secret('KAFKA_SASL_PASSWORD', 'SASL password (required with a SASL mechanism).');
  let sasl: KafkaConfig['sasl'];
  if (mechanism !== 'none') {
    if (saslUsername === undefined || saslPassword === undefined) {
      reader.problem(
        `KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD; set both, or set KAFKA_SASL_MECHANISM=none.`,
      );
    } else {
      sasl = { mechanism, username: saslUsername, password: saslPassword };
    }
  }

  const tlsEnabled = reader.bool('KAFKA_TLS', false, 'Connect to the brokers over TLS.');
  const caFile = reader.optionalString(
    'KAFKA_TLS_CA_FILE',
    "PEM file of the CA that signed the brokers' certificates (default: system CAs).",
  );
  const certFile = reader.optionalString('KAFKA_TLS_CERT_FILE', 'PEM client certificate for mutual TLS.');
  const keyFile = reader.optionalString('KAFKA_TLS_KEY_FILE', 'PEM private key of the client certificate.');
  const rejectUnauthorized = reader.bool(
    'KAFKA_TLS_REJECT_UNAUTHORIZED',
    true,
    "Verify the brokers' certificates (turn off only for tests).",
  );
  let tls: KafkaConfig['tls'];
  if (!tlsEnabled && (caFile ?? certFile ?? keyFile) !== undefined) {
    reader.problem(
      'KAFKA_TLS_CA_FILE / KAFKA_TLS_CERT_FILE / KAFKA_TLS_KEY_FILE are set but KAFKA_TLS is false; set KAFKA_TLS=true or unset them.',
    );
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    reader.problem('KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together; set both for mutual TLS, or neither.');
  }
  if (tlsEnabled) {
    tls = {
      ca: readPem(reader, 'KAFKA_TLS_CA_FILE', caFile),
      cert: readPem(reader, 'KAFKA_TLS_CERT_FILE', certFile),
      key: readPem(reader, 'KAFKA_TLS_KEY_FILE', keyFile),
      rejectUnauthorized,
    };
  }
  const connectionTimeoutMs = reader.int(
    'KAFKA_CONNECTION_TIMEOUT_MS',
    10_000,
    { min: 100, max: 300_000 },
    'Time to establish a broker connection.',
  );
  const requestTimeoutMs = reader.int(
    'KAFKA_REQUEST_TIMEOUT_MS',
    30_000,
    { min: 100, max: 600_000 },
    'Time to wait for a broker response.',
  );
  const startupTimeoutMs = reader.int(
    'KAFKA_STARTUP_TIMEOUT_MS',
    60_000,
    { min: 1_000, max: 3_600_000 },
    "How long start-up steps (output topics, the DLQ topic's limit, the first subscription) retry transient Kafka errors, such as topics created a moment ago without a leader yet, before agentwatch gives up.",
  );
  const sessionTimeoutMs = reader.int(
    'KAFKA_SESSION_TIMEOUT_MS',
    30_000,
    { min: 6_000, max: 1_800_000 },
    'Consumer group session timeout: how long a crashed instance holds its partitions.',
  );

  const registryUrl = reader.url(
    'SCHEMA_REGISTRY_URL',
    'http://127.0.0.1:8081',
    'Confluent-compatible schema registry base URL (Apicurio: .../apis/ccompat/v7).',
  );
  const registryUsername = reader.optionalString(
    'SCHEMA_REGISTRY_USERNAME',
    'Basic-auth user for the schema registry.',
  );
  const registryPassword = reader.secret('SCHEMA_REGISTRY_PASSWORD', 'Basic-auth password for the schema registry.');
  if ((registryUsername === undefined) !== (registryPassword === undefined)) {
    reader.problem('SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD go together; set both, or neither.');
  }

  const clickhouseUrl = reader.url(
    'CLICKHOUSE_URL',
    undefined,
    'ClickHouse server URL; unset means the embedded engine (chdb) in CLICKHOUSE_DATA_DIR.',
  );
  const clickhouseUser = reader.string('CLICKHOUSE_USER', 'default', 'ClickHouse server user.');
  const clickhousePassword = reader.secret('CLICKHOUSE_PASSWORD', 'ClickHouse server password.');
  const database = reader.string('CLICKHOUSE_DATABASE', 'agentwatch', "Database that holds agentwatch's tables.");
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) {
    reader.problem(
      `CLICKHOUSE_DATABASE=${JSON.stringify(database)} must be a plain identifier (letters, digits, underscore; not starting with a digit).`,
    );
  }
  const dataDir = reader.string(
    'CLICKHOUSE_DATA_DIR',
    './data/clickhouse',
    'Data directory of the embedded engine (ignored with CLICKHOUSE_URL).',
  );
  const clickhouseTimeout = reader.int(
    'CLICKHOUSE_REQUEST_TIMEOUT_MS',
    30_000,
    { min: 100, max: 3_600_000 },
    'Time limit of one ClickHouse request.',
  );

  const patternSource = reader.string(
    'INGEST_TOPIC_PATTERN',
    '^agent\\.',
    'Regular expression of the topics to tap; new matching topics are picked up.',
  );
  let topicPattern = /^agent\./;
  try {
    topicPattern = new RegExp(patternSource);
  } catch (err) {
    reader.problem(
      `INGEST_TOPIC_PATTERN=${JSON.stringify(patternSource)} is not a valid regular expression (${(err as Error).message}).`,
    );
  }
  const excludeTopics = reader.list(
    'INGEST_EXCLUDE_TOPICS',
    [],
    "Topics never tapped, besides agentwatch's own (DLQ, anomalies, checkpoints) and internal __ topics.",
  );
  const refreshIntervalMs = reader.int(
    'INGEST_TOPIC_REFRESH_MS',
    30_000,
    { min: 500, max: 3_600_000 },
    'How often to look for new (or deleted) matching topics.',
  );
  const fromBeginning = reader.bool(
    'INGEST_FROM_BEGINNING',
    true,
    "Without a committed offset, start at the earliest record (false: at each partition's end as found right after the group's first join, committed at once; a record produced in the seconds between the join and that lookup is not read).",
  );
  const maxPayloadBytes = reader.int(
    'INGEST_MAX_PAYLOAD_BYTES',
    1_048_576,
    { min: 1024, max: 104_857_600 },
    'Larger record values are not parsed: opaque event plus a DLQ copy.',
  );
  const stallUnreadyMs = reader.int(
    'INGEST_STALL_UNREADY_MS',
    60_000,
    { min: 1_000, max: 86_400_000 },
    '/readyz answers 503, naming the partition and the failing step, once a partition has been retrying a step (DLQ copy, a sink) for this long.',
  );
  const partitionsConcurrently = reader.int(
    'INGEST_PARTITIONS_CONCURRENTLY',
    4,
    { min: 1, max: 64 },
    'Partitions whose batches are processed at the same time.',
  );

  const maxBytesPerPartition = reader.int(
    'INGEST_MAX_BYTES_PER_PARTITION',
    1_048_576,
    { min: 1024, max: 104_857_600 },
    'Most bytes fetched per partition at once: the size (and memory) of one batch.',
  );
  const workers = reader.int(
    'INGEST_WORKERS',
    0,
    { min: 0, max: 16 },
    'Worker threads that take work off the main thread (which reads, correlates and scores): they decode JSON and A2A record values and write their audit rows, and the main thread chains and hashes the rows. The records go over in a few buffers. On the 2-core benchmark machine one worker took 7–9 µs of CPU per message off the main thread and added about 10 µs to the process (bench/README.md). Confluent-framed values (Avro, JSON Schema) stay on the main thread. 0 does everything on the main thread. Each worker is a thread with its own V8 heap; workers pay where the main thread is the bottleneck and a core is free.',
  );
  const maxPendingRecords = reader.int(
    'INGEST_MAX_PENDING_RECORDS',
    50_000,
    { min: 1, max: 10_000_000 },
    'Records read but not yet committed (their audit insert unconfirmed), across partitions; at this many the tap waits. Lets the next batches be decoded while an insert runs, and inserts reach AUDIT_BATCH_ROWS while a backlog is read. 1 handles one batch per partition at a time.',
  );

  const dlqTopic = reader.string(
    'DLQ_TOPIC',
    'agentwatch.dlq',
    'Dead-letter topic for records that cannot be decoded (reason in headers).',
  );
  const anomaliesTopic = reader.string(
    'ANOMALIES_TOPIC',
    'agent.anomalies',
    'Topic the anomaly alerts are published to.',
  );
  const checkpointsTopic = reader.string(
    'CHECKPOINTS_TOPIC',
    'agentwatch.checkpoints',
    'Topic of the audit hash-chain checkpoints.',
  );
  for (const [name, topic] of [
    ['DLQ_TOPIC', dlqTopic],
    ['ANOMALIES_TOPIC', anomaliesTopic],
    ['CHECKPOINTS_TOPIC', checkpointsTopic],
  ] as const) {
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic))
      reader.problem(
        `${name}=${JSON.stringify(topic)} is not a legal Kafka topic name (letters, digits, . _ -; at most 249).`,
      );
  }
  const outputPartitions = reader.int(
    'OUTPUT_TOPIC_PARTITIONS',
    3,
    { min: 1, max: 1000 },
    'Partitions of the output topics agentwatch creates when missing.',
  );
  const outputReplication = reader.int(
    'OUTPUT_TOPIC_REPLICATION',
    -1,
    { min: -1, max: 10 },
    'Replication factor of created output topics (-1: broker default).',
  );
  if (outputReplication === 0)
    reader.problem('OUTPUT_TOPIC_REPLICATION=0 is not a replication factor; use -1 (broker default) or 1 and up.');

  const taskTtlMs = reader.int(
    'CORRELATE_TASK_TTL_MS',
    60_000,
    { min: 100, max: 86_400_000 },
    'A task with no answer this long (event time) after its request times out.',
  );
  const maxInFlight = reader.int(
    'CORRELATE_MAX_INFLIGHT',
    100_000,
    { min: 10, max: 10_000_000 },
    'Most tasks awaiting an answer; beyond it the oldest is evicted (counted).',
  );
  const maxRecent = reader.int(
    'CORRELATE_MAX_RECENT',
    100_000,
    { min: 10, max: 10_000_000 },
    'Finished tasks remembered to recognise retries and duplicate answers.',
  );

  const maxSkewMs = reader.int(
    'EVENT_TIME_MAX_SKEW_MS',
    300_000,
    { min: 1_000, max: 31_536_000_000 },
    'A record stamped this far ahead of the (declared) clock, or behind the event clock, is audited and counted per producer but never moves the event clock, nor is it correlated or scored.',
  );
  const idleMs = reader.int(
    'EVENT_TIME_IDLE_MS',
    15_000,
    { min: 100, max: 86_400_000 },
    'A caught-up partition with no new record for this long (event time, and at least 5 s of wall time) stops holding the event clock back.',
  );
  const alignMs = reader.int(
    'EVENT_TIME_ALIGN_MS',
    300_000,
    { min: 1_000, max: 86_400_000 },
    'A partition read further ahead of event time than this is paused until the others catch up (bounds the tasks waiting for answers while a backlog is read).',
  );
  const speed = reader.float(
    'EVENT_TIME_SPEED',
    1,
    { min: 0.001, max: 10_000 },
    'Event time runs this many times faster than the wall clock: only for accelerated simulations, with EVENT_TIME_ANCHOR.',
  );
  const anchorText = reader.optionalString(
    'EVENT_TIME_ANCHOR',
    'The declared clock of an accelerated simulation: EVENT@WALL, its event time EVENT at wall time WALL (each ISO 8601 or ms since the epoch). Default: the wall clock.',
  );
  const started = Date.now();
  let anchor = { event: started, wall: started };
  if (anchorText !== undefined) {
    const [eventText, wallText, ...extra] = anchorText.split('@');
    const event = parseInstant(eventText);
    const wall = parseInstant(wallText);
    if (event === undefined || wall === undefined || extra.length > 0) {
      reader.problem(
        `EVENT_TIME_ANCHOR=${JSON.stringify(anchorText)} is not EVENT@WALL; give two times, ISO 8601 or ms since the epoch, e.g. 2026-12-01T09:00:00Z@2026-12-01T10:00:00Z.`,
      );
    } else {
      anchor = { event, wall };
    }
  }
  if (speed !== 1 && anchorText === undefined)
    reader.problem(
      `EVENT_TIME_SPEED=${speed} needs EVENT_TIME_ANCHOR (which event time the simulation showed at which wall time).`,
    );

  const eventsFile = reader.optionalString(
    'EVENTS_FILE',
    'Append every event as NDJSON to this file, fsynced before offsets are committed.',
  );
  const retryMaxMs = reader.int(
    'SINK_RETRY_MAX_MS',
    30_000,
    { min: 100, max: 600_000 },
    'Longest backoff between retries of a failing sink or schema registry.',
  );

  const windowMs = reader.int(
    'DETECT_WINDOW_MS',
    10_000,
    { min: 100, max: 3_600_000 },
    'Tumbling window length per agent, in event time.',
  );
  const latenessMs = reader.int(
    'DETECT_LATENESS_MS',
    5_000,
    { min: 0, max: 3_600_000 },
    'How long after its end a window waits for late events before it is scored.',
  );
  const p = reader.float(
    'DETECT_P',
    0.999,
    { min: 0, max: 1, exclusive: true },
    'Alert when D² exceeds this quantile (χ² of the feature count, or empirical).',
  );
  const threshold = reader.oneOf(
    'DETECT_THRESHOLD',
    ['chi2', 'empirical'],
    'chi2',
    "Threshold: the χ² quantile, or the quantile of the agent's own normal scores.",
  );
  const fireAfter = reader.int(
    'DETECT_FIRE_AFTER',
    2,
    { min: 1, max: 100 },
    'Anomalous windows in a row before an alert fires (1: fastest, with more false alerts; see docs/detection.md).',
  );
  const resolveAfter = reader.int(
    'DETECT_RESOLVE_AFTER',
    2,
    { min: 1, max: 1000 },
    'Windows in a row at or below the stay threshold before a firing alert resolves.',
  );
  const resolveHorizonWindows = reader.int(
    'DETECT_RESOLVE_HORIZON_WINDOWS',
    100,
    { min: 2, max: 1_000_000 },
    "The recovery test's threshold: an incident that goes on is taken for over by chance about once in this many of its windows (at most; measured far rarer, see docs/detection.md). Higher: fewer incidents cut short, slower resolution on quiet agents; lower: the reverse.",
  );
  const stayP = reader.float(
    'DETECT_STAY_P',
    0.99,
    { min: 0, max: 1, exclusive: true },
    'An incident recovers, and a window may be learned, only at or below this quantile of the score (lower than DETECT_P).',
  );
  const atOnceP = reader.float(
    'DETECT_FIRE_AT_ONCE_P',
    0.999999,
    { min: 0, max: 1, exclusive: true },
    'A window scoring above this quantile fires an alert at once, without DETECT_FIRE_AFTER windows in a row (a gross change is news now).',
  );
  if (atOnceP < p)
    reader.problem(
      `DETECT_FIRE_AT_ONCE_P=${atOnceP} is below DETECT_P=${p}; the fire-at-once threshold must be the higher one.`,
    );
  if (stayP > p)
    reader.problem(`DETECT_STAY_P=${stayP} is above DETECT_P=${p}; the stay threshold must be the lower one.`);
  const warmupWindows = reader.int(
    'DETECT_WARMUP_WINDOWS',
    30,
    { min: 2, max: 100_000 },
    "Windows an agent's own baseline learns before the agent can alert (no agent is scored against another's).",
  );
  const memoryWindows = reader.int(
    'DETECT_MEMORY_WINDOWS',
    180,
    { min: 10, max: 10_000_000 },
    'Baseline memory in windows (exponential forgetting): latency, size and proportion baselines follow slow drift.',
  );
  const rateMemoryWindows = reader.int(
    'DETECT_RATE_MEMORY_WINDOWS',
    60,
    { min: 2, max: 10_000_000 },
    'Memory of the request-rate baseline in windows: short, so that daily load cycles are normal.',
  );
  const learnDelayWindows = reader.int(
    'DETECT_LEARN_DELAY_WINDOWS',
    3,
    { min: 0, max: 1000 },
    "A window is learned only after this many later windows proved normal too (the baseline never learns an incident's onset).",
  );
  const acceptAfterMs = reader.int(
    'DETECT_ACCEPT_AFTER_MS',
    7_200_000,
    { min: 60_000, max: 2_592_000_000 },
    'With nothing learned for this long (an incident that never ends), the behaviour is accepted as the new normal: the alert resolves as accepted and the baseline starts over.',
  );
  const driftReferenceMs = reader.int(
    'DETECT_DRIFT_REFERENCE_MS',
    86_400_000,
    { min: 0, max: 2_592_000_000 },
    "Memory of each capability's long-term reference, in event time: a gradual change the short-term baseline follows (latency, payload size, retry, timeout or failure share) is reported as a minor drift alert against it. 0 turns drift reports off.",
  );
  if (driftReferenceMs > 0 && driftReferenceMs < 2 * memoryWindows * windowMs)
    reader.problem(
      `DETECT_DRIFT_REFERENCE_MS=${driftReferenceMs} is shorter than twice the short-term memory (DETECT_MEMORY_WINDOWS × DETECT_WINDOW_MS = ${memoryWindows * windowMs} ms); set it to at least ${2 * memoryWindows * windowMs}, or 0 to turn drift reports off.`,
    );
  const poolWindows = reader.int(
    'DETECT_POOL_WINDOWS',
    6,
    { min: 1, max: 100 },
    'Most windows pooled into the evidence of a quiet agent (1: no pooling; a worker pools at most 3).',
  );
  const poolMinRequests = reader.int(
    'DETECT_POOL_MIN_REQUESTS',
    20,
    { min: 1, max: 1_000_000 },
    'Windows are pooled until about this many requests are expected.',
  );
  const directions: Record<string, 'up' | 'down' | 'both'> = {};
  for (const entry of reader.list(
    'DETECT_DIRECTIONS',
    [],
    'Which change of a feature alerts, as feature:direction (up, down or both), comma-separated (defaults: request_rate down, payload_bytes_mean both, the rest up).',
  )) {
    const [name, direction] = entry.split(':');
    if (name === undefined || name === '' || !['up', 'down', 'both'].includes(direction ?? ''))
      reader.problem(
        `DETECT_DIRECTIONS: ${JSON.stringify(entry)} is not feature:direction with a direction of up, down or both (e.g. request_rate:both).`,
      );
    else directions[name] = direction as 'up' | 'down' | 'both';
  }
  const minEffects: Record<string, number> = {};
  for (const entry of reader.list(
    'DETECT_MIN_EFFECTS',
    [],
    'Smallest change that alerts, as feature:number, comma-separated: relative for rates, latencies and sizes (latency_p50:0.5 is +50 %), absolute for proportions and tail shares (failure_rate:0.1).',
  )) {
    const [name, text] = entry.split(':');
    const value = Number(text);
    if (name === undefined || name === '' || text === undefined || !Number.isFinite(value) || value < 0)
      reader.problem(`DETECT_MIN_EFFECTS: ${JSON.stringify(entry)} is not feature:number (e.g. latency_p50:0.25).`);
    else minEffects[name] = value;
  }
  const shrinkageRaw = reader.optionalString(
    'DETECT_SHRINKAGE',
    'Pseudo-count of the covariance shrinkage toward the diagonal (default: the number of features).',
  );
  let shrinkage: number | undefined;
  if (shrinkageRaw !== undefined) {
    shrinkage = Number(shrinkageRaw);
    if (!Number.isFinite(shrinkage) || shrinkage <= 0)
      reader.problem(`DETECT_SHRINKAGE=${JSON.stringify(shrinkageRaw)} must be a positive number.`);
  }
  const features = reader.list(
    'DETECT_FEATURES',
    [],
    'Features to score (default: all; the list is in docs/detection.md).',
  );
  const warmupRowsRaw = reader.optionalString(
    'WARMUP_ROWS',
    '`agentwatch score`: leading rows that fit the initial baseline (default: DETECT_WARMUP_WINDOWS; --warmup wins).',
  );
  let warmupRows: number | undefined;
  if (warmupRowsRaw !== undefined) {
    warmupRows = Number(warmupRowsRaw);
    if (!/^\d+$/.test(warmupRowsRaw) || warmupRows < 2)
      reader.problem(`WARMUP_ROWS=${JSON.stringify(warmupRowsRaw)} must be a whole number of at least 2.`);
  }
  const maxAgents = reader.int(
    'DETECT_MAX_AGENTS',
    10_000,
    { min: 1, max: 1_000_000 },
    'Most agents with windows and baselines; the least recently seen is dropped (counted).',
  );

  const auditBatchRows = reader.int(
    'AUDIT_BATCH_ROWS',
    25_000,
    { min: 1, max: 1_000_000 },
    'Audit rows buffered before an insert starts (it starts sooner after AUDIT_FLUSH_MS, or once the reading caught up or waits on it). Rows that arrive while an insert runs go into the next one, so an insert can hold more. Keep INGEST_MAX_PENDING_RECORDS above it.',
  );
  const auditFlushMs = reader.int(
    'AUDIT_FLUSH_MS',
    1_000,
    { min: 10, max: 600_000 },
    'Longest wait before buffered audit rows are inserted.',
  );
  const redactPaths = reader.list(
    'AUDIT_REDACT_PATHS',
    [],
    'JSON paths masked before a payload is stored and hashed (dot-separated, * for any key or item), e.g. params.message.parts.*.text.',
  );
  const unparsedPayload = reader.oneOf<UnparsedPayloadPolicy>(
    'AUDIT_UNPARSED_PAYLOAD',
    ['store', 'hash-only', 'drop-value'],
    redactPaths.length > 0 ? 'hash-only' : 'store',
    'What is kept of a value that cannot be parsed (invalid JSON or UTF-8, unknown schema, over the size limit), where AUDIT_REDACT_PATHS cannot apply, in the audit store and the DLQ: store (the bytes, base64), hash-only (their SHA-256; the DLQ gets a reference record) or drop-value (only the size). Default: hash-only when AUDIT_REDACT_PATHS is set, so a secret redaction cannot find is not kept; store otherwise.',
  );
  const retentionDays = reader.int(
    'AUDIT_RETENTION_DAYS',
    0,
    { min: 0, max: 36_500 },
    'Delete audit rows this many days after ingestion (0: keep forever). Applies when the table is created.',
  );
  const checkpointIntervalMs = reader.int(
    'CHECKPOINT_INTERVAL_MS',
    60_000,
    { min: 100, max: 86_400_000 },
    'How often the hash-chain tails are published to CHECKPOINTS_TOPIC.',
  );

  const alertmanagerUrls = reader.list(
    'ALERTMANAGER_URLS',
    [],
    'Alertmanager base URLs (e.g. http://alertmanager:9093), comma-separated: FIRING and RESOLVED alerts are POSTed to /api/v2/alerts of each, FIRING ones again every ALERTMANAGER_RESEND_MS while they last.',
  );
  const alertmanagerResendMs = reader.int(
    'ALERTMANAGER_RESEND_MS',
    60_000,
    { min: 1_000, max: 3_600_000 },
    'How often a FIRING alert is sent to Alertmanager again while it lasts; each send says it ends 4× this later, so Alertmanager resolves it by itself if agentwatch stops.',
  );
  const webhookUrls = reader.list(
    'ALERT_WEBHOOKS',
    [],
    'Webhook URLs, comma-separated: each alert is POSTed as Alertmanager webhook v4 JSON, in order per agent, retried with backoff; after ALERT_DELIVERY_MAX_ATTEMPTS it becomes a dead letter (GET /v1/alerts/dead-letters).',
  );
  const webhookSecret = reader.secret(
    'ALERT_WEBHOOK_SECRET',
    'Key of the webhook signature: X-Agentwatch-Signature: v1=<hex HMAC-SHA256 of "<X-Agentwatch-Timestamp>.<body>">. Unset: webhooks are not signed. Secret.',
  );
  const alertUrls: Array<[string, string]> = [
    ...alertmanagerUrls.map((url): [string, string] => ['ALERTMANAGER_URLS', url]),
    ...webhookUrls.map((url): [string, string] => ['ALERT_WEBHOOKS', url]),
  ];
  for (const [name, url] of alertUrls) {
    if (!/^https?:\/\/[^\s/]+/.test(url))
      reader.problem(`${name}: ${JSON.stringify(url)} is not an http(s) URL (e.g. http://127.0.0.1:9093).`);
  }
  const deliveryMaxAttempts = reader.int(
    'ALERT_DELIVERY_MAX_ATTEMPTS',
    10,
    { min: 1, max: 1_000 },
    'Attempts to deliver one alert to one webhook or Alertmanager before it is written as a dead letter (counted in agentwatch_alert_dead_letters_total) and the next alert goes.',
  );
  const deliveryBackoffMs = reader.int(
    'ALERT_DELIVERY_BACKOFF_MS',
    1_000,
    { min: 1, max: 600_000 },
    'Wait before the second attempt of a delivery; doubled per attempt up to ALERT_DELIVERY_MAX_BACKOFF_MS.',
  );
  const deliveryMaxBackoffMs = reader.int(
    'ALERT_DELIVERY_MAX_BACKOFF_MS',
    60_000,
    { min: 1, max: 3_600_000 },
    'Longest wait between attempts of a delivery.',
  );
  const deliveryTimeoutMs = reader.int(
    'ALERT_DELIVERY_TIMEOUT_MS',
    10_000,
    { min: 100, max: 600_000 },
    'Time limit of one delivery attempt (connect, send, answer).',
  );
  const publicUrl = reader.optionalString(
    'API_PUBLIC_URL',
    'Base URL of the API as users reach it, for links in alerts (timelines, anomalies), e.g. https://agentwatch.example.com. Default: the address the API listens on.',
  );
  if (publicUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(publicUrl))
    reader.problem(
      `API_PUBLIC_URL=${JSON.stringify(publicUrl)} is not an http(s) URL (e.g. https://agentwatch.example.com).`,
    );
  const streamBuffer = reader.int(
    'ALERT_STREAM_BUFFER',
    10_000,
    { min: 10, max: 1_000_000 },
    'Alerts GET /v1/alerts/stream keeps in memory for clients that reconnect with Last-Event-ID; a client further behind gets an explicit gap event.',
  );
  const streamHeartbeatMs = reader.int(
    'ALERT_STREAM_HEARTBEAT_MS',
    15_000,
    { min: 100, max: 600_000 },
    'How often an idle GET /v1/alerts/stream sends a heartbeat comment.',
  );
  const groupWatchIntervalMs = reader.int(
    'GROUP_WATCH_INTERVAL_MS',
    30_000,
    { min: 0, max: 3_600_000 },
    "How often the agents' consumer groups (those with offsets on tapped topics) are evaluated: lag in records and seconds, commit rate, status. 0: not watched.",
  );
  const groupWatchMaxGroups = reader.int(
    'GROUP_WATCH_MAX_GROUPS',
    200,
    { min: 1, max: 10_000 },
    'Most consumer groups watched, and so labelled in metrics; the rest are counted in agentwatch_consumer_groups_not_watched.',
  );

  const apiHost = reader.string('API_HOST', '127.0.0.1', 'Address the HTTP API listens on (0.0.0.0 to expose it).');
  const apiPort = reader.int('API_PORT', 8080, { min: 0, max: 65_535 }, 'Port of the HTTP API (0: any free port).');
  const apiKeyEntries = reader.list(
    'API_KEYS',
    [],
    'API keys as name:role[+role]:key (roles auditor, sre, admin; keys of 16+ characters), comma-separated. Secret.',
  );
  const apiKeys: ApiKeyConfig[] = [];
  for (const entry of apiKeyEntries) {
    const [name, roleList, ...keyParts] = entry.split(':');
    const key = keyParts.join(':');
    const roles = (roleList ?? '').split('+').filter((r) => r !== '');
    const label = name === undefined || name === '' ? '(unnamed)' : name;
    if (name === undefined || name === '' || roles.length === 0 || key === '') {
      reader.problem(`API_KEYS: an entry of ${label} is not name:role[+role]:key.`);
    } else if (roles.some((r) => !['auditor', 'sre', 'admin'].includes(r))) {
      reader.problem(
        `API_KEYS: key ${label} has an unknown role in ${JSON.stringify(roleList)}; roles are auditor, sre, admin.`,
      );
    } else if (key.length < 16) {
      reader.problem(`API_KEYS: the key of ${label} is shorter than 16 characters; use a long random key.`);
    } else if (apiKeys.some((k) => k.name === name)) {
      reader.problem(`API_KEYS: the name ${label} is used twice.`);
    } else {
      apiKeys.push({ name, roles: roles as ApiRole[], key });
    }
  }
  const maxPageRows = reader.int(
    'API_MAX_PAGE_ROWS',
    1_000,
    { min: 1, max: 100_000 },
    'Largest page a query endpoint returns (the limit parameter may not exceed it).',
  );
  const maxExportRows = reader.int(
    'API_MAX_EXPORT_ROWS',
    10_000_000,
    { min: 1, max: 1_000_000_000 },
    'Most rows one export may match; a larger export is refused with a 400 (narrow it with from/to).',
  );
  const queryTimeoutMs = reader.int(
    'API_QUERY_TIMEOUT_MS',
    10_000,
    { min: 100, max: 3_600_000 },
    'Time limit of one API query in ClickHouse (exports: ten times this).',
  );
  const metricsPublic = reader.bool(
    'API_METRICS_PUBLIC',
    false,
    'Serve /metrics without an API key (false: Prometheus scrapes with a key of role sre).',
  );

  const logLevel = reader.oneOf(
    'LOG_LEVEL',
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
    'info',
    'Log level (JSON logs on stdout).',
  );

  return {
    kafka: {
      brokers,
      clientId,
      groupId,
      sasl,
      tls,
      connectionTimeoutMs,
      requestTimeoutMs,
      startupTimeoutMs,
      sessionTimeoutMs,
    },
    api: { host: apiHost, port: apiPort, keys: apiKeys, maxPageRows, maxExportRows, queryTimeoutMs, metricsPublic },
    audit: {
      batchRows: auditBatchRows,
      flushMs: auditFlushMs,
      redactPaths,
      unparsedPayload,
      retentionDays,
      checkpointIntervalMs,
    },
    detect: {
      windowMs,
      latenessMs,
      p,
      threshold,
      fireAfter,
      resolveAfter,
      resolveHorizonWindows,
      warmupWindows,
      memoryWindows,
      shrinkage,
      features,
      maxAgents,
      warmupRows,
      stayP,
      atOnceP,
      learnDelayWindows,
      acceptAfterMs,
      rateMemoryWindows,
      driftReferenceMs,
      poolWindows,
      poolMinRequests,
      directions,
      minEffects,
    },
    ingest: {
      topicPattern,
      excludeTopics,
      refreshIntervalMs,
      fromBeginning,
      maxPayloadBytes,
      partitionsConcurrently,
      maxBytesPerPartition,
      maxPendingRecords,
      stallUnreadyMs,
      workers,
    },
    alerts: {
      alertmanagerUrls,
      alertmanagerResendMs,
      webhookUrls,
      webhookSecret,
      maxAttempts: deliveryMaxAttempts,
      backoffMs: deliveryBackoffMs,
      maxBackoffMs: deliveryMaxBackoffMs,
      requestTimeoutMs: deliveryTimeoutMs,
      publicUrl: publicUrl?.replace(/\/+$/, ''),
      streamBuffer,
      streamHeartbeatMs,
    },
    groups: { intervalMs: groupWatchIntervalMs, maxGroups: groupWatchMaxGroups },
    topics: {
      dlq: dlqTopic,
      anomalies: anomaliesTopic,
      checkpoints: checkpointsTopic,
      partitions: outputPartitions,
      replicationFactor: outputReplication,
    },
    correlate: { taskTtlMs, maxInFlight, maxRecent },
    eventTime: { maxSkewMs, idleMs, alignMs, speed, anchor },
    sinks: { eventsFile, retryMaxMs },
    schemaRegistry: {
      url: registryUrl ?? 'http://127.0.0.1:8081',
      username: registryUsername,
      password: registryPassword,
    },
    clickhouse: {
      url: clickhouseUrl,
      username: clickhouseUser,
      password: clickhousePassword,
      database,
      dataDir,
      requestTimeoutMs: clickhouseTimeout,
    },
    logLevel,
  };
}

/** ms since the epoch from ISO 8601 or a whole number of ms; undefined if neither. */
function parseInstant(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const ms = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Date.parse(text.trim());
  return Number.isFinite(ms) ? ms : undefined;
}

function readPem(reader: OptionReader, name: string, file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    reader.problem(
      `${name}=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); point it at a readable PEM file.`,
    );
    return undefined;
  }
}

/** Flattens a JSON config file into name→string, reporting values that are not scalars or lists. */
function readConfigFile(path: string, known: ReadonlySet<string>, problems: string[]): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    problems.push(
      `${CONFIG_FILE_VARIABLE}=${path}: ${err instanceof SyntaxError ? `not valid JSON (${err.message})` : `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`}.`,
    );
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(
      `${CONFIG_FILE_VARIABLE}=${path}: must hold one JSON object of option names to values, e.g. {"KAFKA_BROKERS": "kafka:9092"}.`,
    );
    return {};
  }
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!known.has(name)) {
      problems.push(`${path}: unknown option ${JSON.stringify(name)}; see 'agentwatch --help' for the list.`);
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      values[name] = String(value);
    } else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      values[name] = value.join(',');
    } else {
      problems.push(`${path}: option ${name} must be a string, number, boolean or list of strings.`);
    }
  }
  return values;
}

/** Every option agentwatch reads, with type, default and description, in a stable order. */
export function describeOptions(): OptionDoc[] {
  const reader = new OptionReader({});
  readOptions(reader);
  return [
    {
      name: CONFIG_FILE_VARIABLE,
      type: 'path',
      default: '(unset)',
      description: 'JSON file of option names to values; the environment overrides it.',
    },
    ...reader.docs,
  ];
}

/** Builds the Config or throws AW_CONFIG_INVALID listing every problem. */
export function loadConfig(env: OptionSource = process.env): Config {
  const problems: string[] = [];
  const known = new Set(describeOptions().map((doc) => doc.name));
  const filePath = env[CONFIG_FILE_VARIABLE]?.trim();
  const fromFile = filePath ? readConfigFile(filePath, known, problems) : {};
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const name of known) {
    if (env[name] !== undefined) merged[name] = env[name];
  }
  const reader = new OptionReader(merged);
  const config = readOptions(reader);
  problems.push(...reader.problems);
  if (problems.length > 0) {
    throw new AgentwatchError('AW_CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      context: { problems },
    });
  }
  return config;
}
