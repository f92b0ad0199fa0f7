// What people and delivery did with alerts, kept in the audit store next to the alerts: silences and
// acknowledgements (who, when, why) and dead letters (alerts a destination never took). Append-only
// tables; every user value is a bound query parameter.

import type { ClickHouseClient } from './clickhouse-client.js';
import { clickhouseTime } from './audit-row.js';

export interface SilenceRecord {
  id: string;
  matchers: Array<{ name: string; value: string; isRegex: boolean; isEqual: boolean }>;
  startsAt: number;
  endsAt: number;
  comment: string;
  createdBy: string;
  createdAt: number;
}

export async function insertSilence(client: ClickHouseClient, silence: SilenceRecord): Promise<void> {
  await client.insert({
    table: 'alert_silences',
    format: 'JSONEachRow',
    values: [
      {
        id: silence.id,
        matchers: JSON.stringify(silence.matchers),
        starts_at: clickhouseTime(silence.startsAt),
        ends_at: clickhouseTime(silence.endsAt),
        comment: silence.comment,
        created_by: silence.createdBy,
        created_at: clickhouseTime(silence.createdAt),
      },
    ],
  });
}

/**
 * Silences that end after `after` (ms), earliest end first. A silence ended early is a later row with
 * the same id: its latest end wins; what it matches and who created it come from its first row.
 */
export async function readSilences(client: ClickHouseClient, after: number): Promise<SilenceRecord[]> {
  const result = await client.query({
    query: `SELECT id, argMin(matchers, created_at) AS matchers, toUnixTimestamp64Milli(argMin(starts_at, created_at)) AS starts,
              toUnixTimestamp64Milli(argMax(ends_at, created_at)) AS ends, argMin(comment, created_at) AS comment,
              argMin(created_by, created_at) AS created_by, toUnixTimestamp64Milli(min(created_at)) AS created
            FROM alert_silences GROUP BY id HAVING argMax(ends_at, created_at) > {after:DateTime64(3, 'UTC')}
            ORDER BY ends, id LIMIT 10000`,
    query_params: { after: clickhouseTime(after) },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{
    id: string;
    matchers: string;
    starts: string | number;
    ends: string | number;
    comment: string;
    created_by: string;
    created: string | number;
  }>();
  return rows.map((r) => ({
    id: r.id,
    matchers: JSON.parse(r.matchers) as SilenceRecord['matchers'],
    startsAt: Number(r.starts),
    endsAt: Number(r.ends),
    comment: r.comment,
    createdBy: r.created_by,
    createdAt: Number(r.created),
  }));
}

/** Ends a silence now: a row with its id ending at `now`, by `by`. false: no such silence, or it has ended. */
export async function expireSilence(client: ClickHouseClient, id: string, by: string, now: number): Promise<boolean> {
  const current = (await readSilences(client, now)).find((s) => s.id === id);
  if (current === undefined) return false;
  await insertSilence(client, {
    ...current,
    endsAt: now,
    comment: `ended early by ${by}`,
    createdBy: by,
    createdAt: now,
  });
  return true;
}

export interface AckRecord {
  alertId: string;
  ackedBy: string;
  ackedAt: number;
  comment: string;
}

export async function insertAck(client: ClickHouseClient, ack: AckRecord): Promise<void> {
  await client.insert({
    table: 'alert_acks',
    format: 'JSONEachRow',
    values: [
      { alert_id: ack.alertId, acked_by: ack.ackedBy, acked_at: clickhouseTime(ack.ackedAt), comment: ack.comment },
    ],
  });
}

/** The acknowledgements of `alertIds`, oldest first. */
export async function readAcks(client: ClickHouseClient, alertIds: readonly string[]): Promise<AckRecord[]> {
  if (alertIds.length === 0) return [];
  const result = await client.query({
    query: `SELECT alert_id, acked_by, toUnixTimestamp64Milli(acked_at) AS at, comment
            FROM alert_acks WHERE alert_id IN {ids:Array(String)} ORDER BY alert_id, acked_at`,
    query_params: { ids: alertIds },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ alert_id: string; acked_by: string; at: string | number; comment: string }>();
  return rows.map((r) => ({ alertId: r.alert_id, ackedBy: r.acked_by, ackedAt: Number(r.at), comment: r.comment }));
}

/** The silence the FIRING of `alertId` was published under, if any (null: none, or no FIRING stored). */
export async function firingSilencedBy(client: ClickHouseClient, alertId: string): Promise<string | null> {
  const result = await client.query({
    query: `SELECT silenced_by FROM anomalies WHERE alert_id = {id:String} AND state = 'FIRING' AND silenced_by != ''
            LIMIT 1`,
    query_params: { id: alertId },
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ silenced_by: string }>();
  return row?.silenced_by ?? null;
}

/** Whether the anomalies table holds an alert with this id. */
export async function alertExists(client: ClickHouseClient, alertId: string): Promise<boolean> {
  const result = await client.query({
    query: 'SELECT count() AS n FROM anomalies WHERE alert_id = {id:String}',
    query_params: { id: alertId },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ n: string | number }>();
  return Number(rows[0]?.n ?? 0) > 0;
}

export interface DeadLetterRecord {
  destination: string;
  alertId: string;
  state: string;
  partition: number;
  offset: string;
  attempts: number;
  lastError: string;
  alert: string;
  at: number;
}

export async function insertDeadLetter(client: ClickHouseClient, letter: DeadLetterRecord): Promise<void> {
  await client.insert({
    table: 'alert_dead_letters',
    format: 'JSONEachRow',
    values: [
      {
        destination: letter.destination,
        alert_id: letter.alertId,
        state: letter.state,
        partition: letter.partition,
        offset: letter.offset,
        attempts: letter.attempts,
        last_error: letter.lastError,
        alert: letter.alert,
        at: clickhouseTime(letter.at),
      },
    ],
  });
}

/** Dead letters, newest first. */
export async function readDeadLetters(client: ClickHouseClient, limit: number): Promise<DeadLetterRecord[]> {
  const result = await client.query({
    query: `SELECT destination, alert_id, state, partition, toString(offset) AS offset, attempts, last_error, alert,
              toUnixTimestamp64Milli(at) AS at_ms
            FROM alert_dead_letters ORDER BY at DESC, destination, alert_id LIMIT {limit:UInt32}`,
    query_params: { limit },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{
    destination: string;
    alert_id: string;
    state: string;
    partition: number;
    offset: string;
    attempts: number;
    last_error: string;
    alert: string;
    at_ms: string | number;
  }>();
  return rows.map((r) => ({
    destination: r.destination,
    alertId: r.alert_id,
    state: r.state,
    partition: Number(r.partition),
    offset: r.offset,
    attempts: Number(r.attempts),
    lastError: r.last_error,
    alert: r.alert,
    at: Number(r.at_ms),
  }));
}

/**
 * Alerts FIRING in the last `withinMs` that have no RESOLVED row: what Alertmanager must keep being
 * told, and what a restart must still resolve. "No RESOLVED row" rather than "latest row FIRING":
 * a FIRING and its RESOLVED published in one batch share their published_at. Of an alert fired
 * more than once (a consumer group's STALLED, then STOPPED), its latest FIRING row. Rows as
 * recordAlerts stored them; `includeSilenced` false leaves out alerts silenced at publication.
 */
export async function readFiringAlerts(
  client: ClickHouseClient,
  withinMs: number,
  now: number,
  options: { includeSilenced: boolean },
): Promise<Array<Record<string, unknown>>> {
  const result = await client.query({
    query: `SELECT alert_id, agent, capability, scope, kind, state, severity,
              toUnixTimestamp64Milli(onset) AS onset, toUnixTimestamp64Milli(window_start) AS window_start,
              toUnixTimestamp64Milli(window_end) AS window_end, score, threshold, p_value, features, examples, silenced_by, detail
            FROM anomalies
            WHERE published_at > {since:DateTime64(3, 'UTC')} AND state = 'FIRING'
              ${options.includeSilenced ? '' : "AND silenced_by = ''"}
              AND alert_id NOT IN (
                SELECT alert_id FROM anomalies WHERE state = 'RESOLVED' AND published_at > {since:DateTime64(3, 'UTC')})
            ORDER BY published_at DESC
            LIMIT 1 BY alert_id
            LIMIT 10000`,
    query_params: { since: clickhouseTime(now - withinMs) },
    format: 'JSONEachRow',
  });
  return result.json<Record<string, unknown>>();
}

/** A destination with no committed offsets whose start was recorded longer ago than this has lost its offsets (or is new again). */
const DESTINATION_RESTART_GRACE_MS = 86_400_000;

/**
 * From when a destination's consumer group delivers (ms since the epoch; records published before
 * are skipped). With committed offsets: from them, everything (0). Without: from when the
 * destination was configured, recorded here, so that a restart before its first commit loses
 * nothing; unless that record is over a day old, when the group's offsets expired (Kafka drops an
 * empty group's offsets after offsets.retention) or it was removed and added again: then from now,
 * not the topic's retained history.
 */
export async function destinationSince(
  client: ClickHouseClient,
  destination: { id: string; name: string },
  now: number,
  groupHasCommits: boolean,
): Promise<number> {
  const result = await client.query({
    query: `SELECT toUnixTimestamp64Milli(max(first_configured)) AS latest, count() AS n
            FROM alert_destinations WHERE destination_id = {id:String}`,
    query_params: { id: destination.id },
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ latest: string | number; n: string | number }>();
  const latest = Number(row?.n ?? 0) > 0 ? Number(row!.latest) : undefined;
  if (groupHasCommits && latest !== undefined) return 0;
  if (!groupHasCommits && latest !== undefined && now - latest < DESTINATION_RESTART_GRACE_MS) return latest;
  await client.insert({
    table: 'alert_destinations',
    format: 'JSONEachRow',
    values: [{ destination_id: destination.id, destination: destination.name, first_configured: clickhouseTime(now) }],
  });
  return groupHasCommits ? 0 : now;
}
