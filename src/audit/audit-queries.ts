// The read side of the audit store, for the API: filtered search with keyset pagination, a
// workflow's timeline, streamed export, and anomalies. Every user value is a bound query parameter;
// every query runs read-only (readonly = 2) with a row limit and a time limit.

import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { clickhouseTime } from './audit-row.js';

export interface AuditFilter {
  workflowId?: string | undefined;
  taskId?: string | undefined;
  /** The record's producer (audit_events.producer), not a detection agent. */
  producer?: string | undefined;
  capability?: string | undefined;
  topic?: string | undefined;
  kind?: string | undefined;
  state?: string | undefined;
  /** ms since the epoch, inclusive */
  from?: number | undefined;
  /** ms since the epoch, exclusive */
  to?: number | undefined;
}

export interface QueryLimits {
  timeoutMs: number;
  maxRows: number;
}

/** Position after the last row of a page, in the stable order (ts, topic, partition, offset). */
export interface AuditCursor {
  ts: number;
  topic: string;
  partition: number;
  offset: string;
}

/**
 * The columns of a returned audit record. Correlation outcomes (latency_ms, retries, timed_out, and
 * attempt as correlated) come from task_outcomes for chain-version-2 rows, and from the row itself
 * for version-1 rows, which stored them. A value stored as bytes (payload_encoding 'bytes') is
 * returned as base64, as version 1 stored it.
 */
export const AUDIT_COLUMNS = `toUnixTimestamp64Milli(a.ts) AS ts_ms, a.topic AS topic, a.partition AS partition,
  toString(a.offset) AS offset_text, producer, capability, workflow_id, task_id, message_id, context_id, rpc_id, method,
  step, kind, state, error_type,
  if(a.chain_version >= 2 AND o_found = 1, tupleElement(o_outcome, 4), a.attempt) AS attempt,
  payload_bytes, encoding, schema_id, parse_error, dlq_reason,
  if(a.chain_version >= 2, if(o_found = 1, tupleElement(o_outcome, 1), -1), a.latency_ms) AS latency_ms,
  if(a.chain_version >= 2, if(o_found = 1, tupleElement(o_outcome, 2), 0), a.retries) AS retries,
  if(a.chain_version >= 2, if(o_found = 1, tupleElement(o_outcome, 3), 0), a.timed_out) AS timed_out,
  key, headers, if(a.payload_encoding = 'bytes', base64Encode(a.payload), a.payload) AS payload,
  if(a.payload_encoding = 'bytes', 'base64', a.payload_encoding) AS payload_encoding, hash`;

/**
 * The stored rows as hashed, for recomputing a chain outside agentwatch (export format=chain,
 * docs/audit-chain.md): every hashed column as stored, bytes (key, header values, payload) as
 * base64, the version-1 outcome columns, and the chain.
 */
export const CHAIN_COLUMNS = `topic, partition, toString(offset) AS offset, toString(prev_offset) AS prev_offset,
  toUnixTimestamp64Milli(ts) AS ts, base64Encode(key) AS key_base64,
  arrayMap((name, value) -> [name, base64Encode(value)], mapKeys(headers), mapValues(headers)) AS headers_base64,
  producer, capability, workflow_id, task_id, message_id, context_id, rpc_id, method, step, kind, state, error_type,
  attempt, payload_bytes, encoding, schema_id, parse_error, dlq_reason, base64Encode(payload) AS payload_base64,
  payload_encoding, latency_ms, retries, timed_out, prev_hash, hash, chain_version`;

/**
 * audit_events AS a, with the latest outcome of each of the rows `scope` selects (a query of
 * topic, partition, offset over audit_events, bounded like the outer query) joined on coordinates.
 */
function withOutcomes(scope: string): string {
  return `audit_events AS a LEFT JOIN (
      SELECT topic AS o_topic, partition AS o_partition, offset AS o_offset,
        argMax(tuple(latency_ms, retries, timed_out, attempt), version) AS o_outcome, 1 AS o_found
      FROM task_outcomes WHERE (topic, partition, offset) IN (${scope})
      GROUP BY topic, partition, offset
    ) AS o ON a.topic = o.o_topic AND a.partition = o.o_partition AND a.offset = o.o_offset`;
}

export interface AuditRecord {
  ts: string;
  topic: string;
  partition: number;
  offset: string;
  producer: string;
  capability: string;
  workflow_id: string;
  task_id: string;
  message_id: string;
  context_id: string;
  rpc_id: string;
  method: string;
  step: string;
  kind: string;
  state: string;
  error_type: string;
  attempt: number;
  payload_bytes: number;
  encoding: string;
  schema_id: number | null;
  parse_error: string;
  dlq_reason: string;
  latency_ms: number | null;
  retries: number;
  timed_out: boolean;
  key: string;
  headers: Record<string, string>;
  payload: string;
  payload_encoding: string;
  hash: string;
}

/**
 * The columns of a search page read from audit_events alone (version-1 outcome columns included);
 * the outcomes of version-2 rows are then read for exactly those rows (outcomesOf), which costs a
 * timeline a lookup by primary key instead of a join (bench/queries: p50 41 -> 10 ms).
 */
const PAGE_COLUMNS = `toUnixTimestamp64Milli(a.ts) AS ts_ms, a.topic AS topic, a.partition AS partition,
  toString(a.offset) AS offset_text, producer, capability, workflow_id, task_id, message_id, context_id, rpc_id, method,
  step, kind, state, error_type, attempt, payload_bytes, encoding, schema_id, parse_error, dlq_reason, latency_ms, retries,
  timed_out, key, headers, if(a.payload_encoding = 'bytes', base64Encode(a.payload), a.payload) AS payload,
  if(a.payload_encoding = 'bytes', 'base64', a.payload_encoding) AS payload_encoding, hash, chain_version`;

type RawRecord = Omit<AuditRecord, 'ts' | 'offset' | 'schema_id' | 'latency_ms' | 'timed_out'> & {
  ts_ms: number | string;
  offset_text: string;
  schema_id: number | string;
  latency_ms: number | string;
  timed_out: number;
  chain_version?: number | string;
};

/** Kafka topic names are [a-zA-Z0-9._-]: such a name and an offset can be written into SQL as literals. */
const KAFKA_TOPIC = /^[A-Za-z0-9._-]+$/;

/** Fills the correlation outcomes of the page's version-2 rows from task_outcomes (in place). */
async function withOutcomesOf(client: ClickHouseClient, rows: RawRecord[], limits: QueryLimits): Promise<void> {
  const v2 = rows.filter((r) => Number(r.chain_version ?? 1) >= 2);
  if (v2.length === 0) return;
  const tuples = v2
    .filter((r) => KAFKA_TOPIC.test(r.topic) && /^\d+$/.test(r.offset_text))
    .map((r) => `('${r.topic}', ${Number(r.partition)}, ${r.offset_text})`);
  const found = new Map<string, [number | string, number, number, number]>();
  if (tuples.length > 0) {
    const outcomes = await (
      await client.query({
        query: `SELECT topic, partition, toString(offset) AS offset_text,
                  argMax(tuple(latency_ms, retries, timed_out, attempt), version) AS outcome
                FROM task_outcomes WHERE (topic, partition, offset) IN (${tuples.join(', ')})
                GROUP BY topic, partition, offset ${settings({ ...limits, maxRows: tuples.length })}`,
        format: 'JSONEachRow',
      })
    ).json<{
      topic: string;
      partition: number;
      offset_text: string;
      outcome: [number | string, number, number, number];
    }>();
    for (const o of outcomes) found.set(`${o.topic}:${o.partition}:${o.offset_text}`, o.outcome);
  }
  for (const row of v2) {
    const outcome = found.get(`${row.topic}:${row.partition}:${row.offset_text}`);
    row.latency_ms = outcome === undefined ? -1 : outcome[0];
    row.retries = outcome === undefined ? 0 : Number(outcome[1]);
    row.timed_out = outcome === undefined ? 0 : Number(outcome[2]);
    if (outcome !== undefined) row.attempt = Number(outcome[3]);
  }
}

function toRecord(raw: RawRecord): AuditRecord {
  const { ts_ms, offset_text, schema_id, latency_ms, timed_out, chain_version: _version, ...rest } = raw;
  return {
    ...rest,
    ts: new Date(Number(ts_ms)).toISOString(),
    offset: offset_text,
    partition: Number(raw.partition),
    schema_id: Number(schema_id) < 0 ? null : Number(schema_id),
    latency_ms: Number(latency_ms) < 0 ? null : Number(latency_ms),
    timed_out: Number(timed_out) === 1,
  };
}

function where(filter: AuditFilter): { sql: string; params: Record<string, unknown> } {
  const clauses: string[] = [];
  const params: Record<string, unknown> = {};
  const equal = (column: string, name: string, value: string | undefined) => {
    if (value === undefined) return;
    clauses.push(`${column} = {${name}:String}`);
    params[name] = value;
  };
  equal('workflow_id', 'workflowId', filter.workflowId);
  equal('task_id', 'taskId', filter.taskId);
  equal('producer', 'producer', filter.producer);
  equal('capability', 'capability', filter.capability);
  equal('topic', 'topic', filter.topic);
  equal('kind', 'kind', filter.kind);
  equal('state', 'state', filter.state);
  if (filter.from !== undefined) {
    clauses.push(`ts >= {from:DateTime64(3, 'UTC')}`);
    params.from = clickhouseTime(filter.from);
  }
  if (filter.to !== undefined) {
    clauses.push(`ts < {to:DateTime64(3, 'UTC')}`);
    params.to = clickhouseTime(filter.to);
  }
  return { sql: clauses.length === 0 ? '1' : clauses.join(' AND '), params };
}

/**
 * The query's limits as a SQL SETTINGS clause. Not `clickhouse_settings`: the embedded engine runs
 * every query in one session, where per-request settings stick, so a readonly=2 sent with one API
 * query would refuse every later insert (regression test: embedded-settings-stay-in-their-query).
 */
function settings(limits: QueryLimits): string {
  return `SETTINGS readonly = 2, max_execution_time = ${Math.max(1, Math.ceil(limits.timeoutMs / 1000))}, max_result_rows = ${Math.floor(limits.maxRows)}, result_overflow_mode = 'throw', prefer_column_name_to_alias = 1`;
}

export async function searchAudit(
  client: ClickHouseClient,
  filter: AuditFilter,
  page: { limit: number; after?: AuditCursor | undefined },
  limits: QueryLimits,
): Promise<{ records: AuditRecord[]; next: AuditCursor | null }> {
  const { sql, params } = where(filter);
  let keyset = '';
  if (page.after !== undefined) {
    keyset = `AND (ts, topic, partition, offset) > ({afterTs:DateTime64(3, 'UTC')}, {afterTopic:String}, {afterPartition:UInt32}, {afterOffset:UInt64})`;
    Object.assign(params, {
      afterTs: clickhouseTime(page.after.ts),
      afterTopic: page.after.topic,
      afterPartition: page.after.partition,
      afterOffset: page.after.offset,
    });
  }
  const result = await client.query({
    query: `SELECT ${PAGE_COLUMNS} FROM audit_events AS a
            WHERE ${sql} ${keyset} ORDER BY ts, topic, partition, offset LIMIT {limit:UInt32} ${settings({ ...limits, maxRows: page.limit + 1 })}`,
    query_params: { ...params, limit: page.limit + 1 },
    format: 'JSONEachRow',
  });
  const raw = (await result.json<RawRecord>()).slice(0, page.limit + 1);
  const kept = raw.slice(0, page.limit);
  await withOutcomesOf(client, kept, limits);
  const records = kept.map(toRecord);
  const last = records.at(-1);
  const next =
    raw.length > page.limit && last !== undefined
      ? { ts: Date.parse(last.ts), topic: last.topic, partition: last.partition, offset: last.offset }
      : null;
  return { records, next };
}

/** Every event of one workflow in time order (at most `limit`; `truncated` says when there were more). */
export async function workflowTimeline(
  client: ClickHouseClient,
  workflowId: string,
  limit: number,
  limits: QueryLimits,
): Promise<{ records: AuditRecord[]; truncated: boolean }> {
  const { records, next } = await searchAudit(client, { workflowId }, { limit }, limits);
  return { records, truncated: next !== null };
}

/**
 * Rows per slice of an export. Each slice is one query, and the embedded engine's connection hands
 * over a query's result whole (chdb has no streaming cursor behind @clickhouse/client yet), so an
 * export is split into slices of record time that each hold about this many rows.
 */
export const EXPORT_SLICE_ROWS = 20_000;
/** Beyond 20,000,000 rows, slices grow instead (the quantile list stays a short query). */
const MAX_EXPORT_SLICES = 1_000;

/** What an export will read: its row count now, and the record-time slices [from, to) it is read in. */
export interface ExportPlan {
  rows: number;
  /** ms since the epoch; null: the whole filter in one query (few rows). */
  slices: Array<{ from: number; to: number } | null>;
}

/**
 * Counts the rows an export matches and cuts its time range into slices of about
 * EXPORT_SLICE_ROWS rows at the quantiles of their record time (approximate: a slice may hold a
 * few times more, and all rows of one millisecond always share a slice).
 */
export async function planExport(
  client: ClickHouseClient,
  filter: AuditFilter,
  limits: QueryLimits,
): Promise<ExportPlan> {
  const { sql, params } = where(filter);
  const [span] = await (
    await client.query({
      query: `SELECT count() AS n, toUnixTimestamp64Milli(min(ts)) AS first, toUnixTimestamp64Milli(max(ts)) AS last FROM audit_events WHERE ${sql} ${settings({ ...limits, maxRows: 1 })}`,
      query_params: params,
      format: 'JSONEachRow',
    })
  ).json<{ n: string | number; first: string | number; last: string | number }>();
  const rows = Number(span?.n ?? 0);
  if (rows <= EXPORT_SLICE_ROWS) return { rows, slices: [null] };
  const first = Number(span!.first);
  const end = Number(span!.last) + 1;
  const count = Math.min(MAX_EXPORT_SLICES, Math.ceil(rows / EXPORT_SLICE_ROWS));
  const levels = Array.from({ length: count - 1 }, (_, i) => ((i + 1) / count).toFixed(6)).join(', ');
  const [cuts] = await (
    await client.query({
      query: `SELECT arrayMap(t -> toUnixTimestamp64Milli(t), quantiles(${levels})(ts)) AS at FROM audit_events WHERE ${sql} ${settings({ ...limits, maxRows: 1 })}`,
      query_params: params,
      format: 'JSONEachRow',
    })
  ).json<{ at: Array<string | number> }>();
  const bounds = [...new Set([first, ...(cuts?.at ?? []).map(Number).filter((t) => t > first && t < end), end])].sort(
    (a, b) => a - b,
  );
  return { rows, slices: bounds.slice(1).map((to, i) => ({ from: bounds[i]!, to })) };
}

/**
 * Streams the planned rows as NDJSON or CSV (one header row), slice after slice in record-time
 * order, each slice ordered like the search. Memory holds one slice at most; a slice is queried only
 * when the client has taken the previous one (backpressure). Rows stored meanwhile with a record
 * time inside the planned range are included, later ones are not.
 */
export function streamExport(
  client: ClickHouseClient,
  filter: AuditFilter,
  plan: ExportPlan,
  format: 'ndjson' | 'csv' | 'chain',
  limits: QueryLimits,
  signal?: AbortSignal,
): Readable {
  const { sql, params } = where(filter);
  async function* lines(): AsyncGenerator<string> {
    for (const [i, slice] of plan.slices.entries()) {
      if (signal?.aborted === true) return;
      const inSlice =
        slice === null ? '' : `AND ts >= {sliceFrom:DateTime64(3, 'UTC')} AND ts < {sliceTo:DateTime64(3, 'UTC')}`;
      const result = await client.query({
        query:
          format === 'chain'
            ? `SELECT ${CHAIN_COLUMNS} FROM audit_events WHERE ${sql} ${inSlice} ORDER BY ts, topic, partition, offset ${settings(limits)}`
            : `SELECT ${AUDIT_COLUMNS}
                FROM ${withOutcomes(`SELECT topic, partition, offset FROM audit_events WHERE ${sql} ${inSlice}`)}
                WHERE ${sql} ${inSlice} ORDER BY ts, topic, partition, offset ${settings(limits)}`,
        query_params:
          slice === null
            ? params
            : { ...params, sliceFrom: clickhouseTime(slice.from), sliceTo: clickhouseTime(slice.to) },
        format: format !== 'csv' ? 'JSONEachRow' : i === 0 ? 'CSVWithNames' : 'CSV',
        ...(signal === undefined ? {} : { abort_signal: signal }),
      });
      for await (const rows of result.stream() as AsyncIterable<Array<{ text: string }>>) {
        yield rows.map((row) => `${row.text}\n`).join('');
      }
    }
  }
  return Readable.from(lines(), { objectMode: false });
}

export interface AnomalyFilter {
  agent?: string | undefined;
  state?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
}

export interface AnomalyRecord {
  alert_id: string;
  agent: string;
  capability: string;
  scope: string;
  kind: string;
  resolution: string | null;
  accepted_by: string | null;
  state: string;
  severity: string;
  onset: string;
  window_start: string;
  window_end: string;
  score: number;
  threshold: number;
  p_value: number;
  features: unknown;
  /** The silence that matched at publication (the alert was not sent to webhooks or Alertmanager). */
  silenced_by: string | null;
  /** Tasks of the window to look at, each with the path of its workflow's timeline. */
  examples: Array<{
    taskId: string | null;
    workflowId: string | null;
    reason: string;
    latencyMs: number | null;
    timeline: string | null;
  }>;
}

export async function searchAnomalies(
  client: ClickHouseClient,
  filter: AnomalyFilter,
  limit: number,
  limits: QueryLimits,
): Promise<AnomalyRecord[]> {
  const clauses: string[] = [];
  const params: Record<string, unknown> = { limit };
  if (filter.agent !== undefined) {
    clauses.push('agent = {agent:String}');
    params.agent = filter.agent;
  }
  if (filter.state !== undefined) {
    clauses.push('state = {state:String}');
    params.state = filter.state;
  }
  if (filter.from !== undefined) {
    clauses.push(`window_start >= {from:DateTime64(3, 'UTC')}`);
    params.from = clickhouseTime(filter.from);
  }
  if (filter.to !== undefined) {
    clauses.push(`window_start < {to:DateTime64(3, 'UTC')}`);
    params.to = clickhouseTime(filter.to);
  }
  const result = await client.query({
    query: `SELECT alert_id, agent, capability, scope, kind, resolution, accepted_by, state, severity, toUnixTimestamp64Milli(onset) AS onset_ms, toUnixTimestamp64Milli(window_start) AS start_ms,
              toUnixTimestamp64Milli(window_end) AS end_ms, score, threshold, p_value, features, examples, silenced_by
            FROM anomalies WHERE ${clauses.length === 0 ? '1' : clauses.join(' AND ')}
            ORDER BY window_start DESC, alert_id LIMIT {limit:UInt32} ${settings(limits)}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{
    alert_id: string;
    agent: string;
    capability: string;
    scope: string;
    kind: string;
    resolution: string;
    accepted_by: string;
    state: string;
    severity: string;
    onset_ms: number;
    start_ms: number;
    end_ms: number;
    score: number;
    threshold: number;
    p_value: number;
    features: string;
    examples: string;
    silenced_by: string;
  }>();
  return rows.map((r) => ({
    alert_id: r.alert_id,
    agent: r.agent,
    capability: r.capability,
    scope: r.scope,
    kind: r.kind,
    resolution: r.resolution === '' ? null : r.resolution,
    accepted_by: r.accepted_by === '' ? null : r.accepted_by,
    state: r.state,
    severity: r.severity,
    onset: new Date(Number(r.onset_ms)).toISOString(),
    window_start: new Date(Number(r.start_ms)).toISOString(),
    window_end: new Date(Number(r.end_ms)).toISOString(),
    score: r.score,
    threshold: r.threshold,
    p_value: r.p_value,
    features: JSON.parse(r.features) as unknown,
    silenced_by: r.silenced_by === '' ? null : r.silenced_by,
    examples: (
      JSON.parse(r.examples) as Array<{
        taskId: string | null;
        workflowId: string | null;
        reason: string;
        latencyMs: number | null;
      }>
    ).map((e) => ({
      ...e,
      timeline: e.workflowId === null ? null : `/v1/workflows/${encodeURIComponent(e.workflowId)}/timeline`,
    })),
  }));
}

export interface IntegrityFinding {
  found_at: string;
  topic: string;
  partition: number;
  offset: string;
  kind: string;
  detail: string;
  stored_hash: string;
  record_hash: string;
}

/**
 * Integrity findings, newest first: records whose offset held a different stored row (forged or
 * rewritten), found by the writer when the record was redelivered. The genuine row's bytes stay in
 * the table (record_row); this returns what a reviewer needs to find it.
 */
export async function searchIntegrityFindings(
  client: ClickHouseClient,
  filter: { topic?: string | undefined },
  limit: number,
  limits: QueryLimits,
): Promise<IntegrityFinding[]> {
  const rows = await (
    await client.query({
      query: `SELECT toUnixTimestamp64Milli(found_at) AS found_ms, topic, partition, toString(offset) AS offset_text, kind, detail,
                stored_hash, record_hash
              FROM integrity_findings ${filter.topic === undefined ? '' : 'WHERE topic = {topic:String}'}
              ORDER BY found_at DESC, topic, partition, offset LIMIT {limit:UInt32} ${settings({ ...limits, maxRows: limit })}`,
      query_params: { limit, ...(filter.topic === undefined ? {} : { topic: filter.topic }) },
      format: 'JSONEachRow',
    })
  ).json<{
    found_ms: number | string;
    topic: string;
    partition: number;
    offset_text: string;
    kind: string;
    detail: string;
    stored_hash: string;
    record_hash: string;
  }>();
  return rows.map((r) => ({
    found_at: new Date(Number(r.found_ms)).toISOString(),
    topic: r.topic,
    partition: Number(r.partition),
    offset: r.offset_text,
    kind: r.kind,
    detail: r.detail,
    stored_hash: r.stored_hash,
    record_hash: r.record_hash,
  }));
}
