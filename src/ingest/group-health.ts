// The health of the consumer groups that read agent topics (the workers of the fleet): lag in
// records and in seconds, commit rate, and a status in Burrow's sense, read from Kafka's admin API
// every interval. A pure classifier decides the status from two observations; GroupHealthWatch
// does the reading, keeps the little history the classifier needs, and reports status changes.
//
// Statuses (checked in this order):
//   ERROR    the group's offsets, description or its topics' watermarks could not be read.
//   STOPPED  no members (state Empty), no committed offset moved since the previous
//            evaluation, and records waiting: nobody would process them. A memberless group that
//            is caught up (scaled to zero, or an assign()-based consumer between commits) is OK.
//            A memberless group that still commits (consumers using assign() commit through a
//            group without joining it, protocol type '') is judged by its commits like any other.
//   STALLED  members, records waiting at this evaluation and at the previous one, and no committed
//            offset moved in between: the workers hold their partitions but acknowledge nothing.
//            Waiting at both ends keeps records that arrived just before a look from counting.
//   WARNING  commits move, but the total lag grew at each of the last 3 evaluations.
//   OK       otherwise. At its first evaluation a group can only be OK, STOPPED or ERROR.
// The interval must exceed the groups' commit interval (auto.commit.interval.ms is 5 s in the Java
// client), or a healthy group that commits every 5 s looks STALLED to a watch that looks every 1 s.
//
// Lag counts records still in the log: from the committed offset, or from the low watermark when
// nothing is committed (or retention deleted records past the commit). Lag in seconds is the age of
// the oldest unconsumed record, from the LagClock, so a stopped group shows growing lag, not 0
// (kminion #182/#240).
//
// Not watched: share groups (KIP-932, Kafka 4.x). ListGroups reports them with protocol type
// "share", which the watch skips, and kafkajs speaks neither ShareGroupDescribe nor
// DescribeShareGroupOffsets, so neither their members nor their acknowledged offsets can be read.
// Consumer groups of the new protocol (KIP-848, group.protocol=consumer) are unknown to the classic
// DescribeGroups (Kafka 4.4 answers state Dead, no members, for a live one; others answer
// GROUP_ID_NOT_FOUND) and kafkajs has no ConsumerGroupDescribe: their members are unknown (-1), so
// they are never STOPPED, but their commits and lag are read like any group's, so they are STALLED
// when records wait and no commit moves.

import type { Admin, GroupDescription } from 'kafkajs';
import { messageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { LagClock } from './lag-clock.js';

export type GroupStatus = 'OK' | 'WARNING' | 'STALLED' | 'STOPPED' | 'ERROR';

/** A group kafkajs cannot describe (KIP-848 consumer protocol): its members are unknown (-1). */
const UNDESCRIBABLE = 'not describable: a group of the consumer protocol (KIP-848)';

/** One partition as seen at one evaluation. */
export interface PartitionOffsets {
  topic: string;
  partition: number;
  /** The group's committed offset, i.e. the next record it would read; -1 when nothing is committed. */
  committed: number;
  /** The partition's low and high watermarks: its first record, and the offset the next record will get. */
  low: number;
  high: number;
}

/** What could be read of a group at one evaluation. */
export interface GroupObservation {
  atMs: number;
  /** As DescribeGroups reports it: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead, Unknown. */
  state: string;
  /** -1: not known (a KIP-848 group, which kafkajs cannot describe): judged by its commits alone. */
  members: number;
  /** The partitions of agent topics the group has committed offsets for. */
  partitions: readonly PartitionOffsets[];
}

/** The group could not be read at this evaluation. */
export interface GroupReadFailure {
  atMs: number;
  error: string;
}

export interface GroupVerdict {
  status: GroupStatus;
  /** One line for a person: why this status. */
  reason: string;
}

/** Groups whose offsets are fetched at once while looking for agent groups. */
const FETCH_CONCURRENCY = 8;
/**
 * A group of another application (offsets committed, none of them on an agent topic) is examined
 * again only once in this many evaluations (every 5 minutes at the default interval of 30 s), at an
 * evaluation picked by its name so that such groups are spread over the evaluations. Each
 * examination costs an OffsetFetch, and a busy cluster holds hundreds of groups of other
 * applications: looking at all of them at every evaluation made each take seconds. So a group that
 * moves to agent topics is watched within this many evaluations. A group that has committed nothing
 * yet (one that just joined) is examined at every evaluation.
 */
export const NOT_AGENT_RECHECK_EVALUATIONS = 10;

/** Whether a group of another application is examined at this evaluation: once in NOT_AGENT_RECHECK_EVALUATIONS, by its name. */
export function notAgentRecheckDue(groupId: string, evaluation: number): boolean {
  let phase = 0;
  for (let i = 0; i < groupId.length; i += 1)
    phase = (phase * 31 + groupId.charCodeAt(i)) % NOT_AGENT_RECHECK_EVALUATIONS;
  return (evaluation + phase) % NOT_AGENT_RECHECK_EVALUATIONS === 0;
}

/** Evaluations of growing lag (after the one that started it) that make a WARNING. */
export const WARNING_GROWTHS = 3;

/** Records waiting in one partition. */
export function partitionLag(p: PartitionOffsets): number {
  const from = p.committed < 0 ? p.low : Math.max(p.committed, p.low);
  return Math.max(0, p.high - from);
}

export function lagRecords(observation: GroupObservation): number {
  let total = 0;
  for (const p of observation.partitions) total += partitionLag(p);
  return total;
}

/**
 * Whether any committed offset moved between the observations. A partition committed for the first
 * time counts; an offset moved backwards (a reset) counts too: someone acts on the group.
 */
export function commitsMoved(previous: GroupObservation, current: GroupObservation): boolean {
  const before = committedByPartition(previous);
  return current.partitions.some((p) => p.committed >= 0 && before.get(`${p.topic}:${p.partition}`) !== p.committed);
}

/** Records acknowledged per second between the observations: committed-offset advance summed over partitions. */
export function commitRate(previous: GroupObservation, current: GroupObservation): number {
  const seconds = (current.atMs - previous.atMs) / 1000;
  if (!(seconds > 0)) return 0;
  const before = committedByPartition(previous);
  let advanced = 0;
  for (const p of current.partitions) {
    const was = before.get(`${p.topic}:${p.partition}`);
    // A partition without a previous commit has no known starting point; a reset is no progress.
    if (was !== undefined && was >= 0 && p.committed > was) advanced += p.committed - was;
  }
  return advanced / seconds;
}

/**
 * The group's status at `current`, from the previous readable observation (undefined at the first
 * evaluation) and the total lag of the evaluations before `current`, oldest first.
 */
export function classifyGroup(
  previous: GroupObservation | undefined,
  current: GroupObservation | GroupReadFailure,
  recentLags: readonly number[] = [],
): GroupVerdict {
  if ('error' in current) return { status: 'ERROR', reason: `could not read the group: ${current.error}` };
  const lag = lagRecords(current);
  const moved = previous !== undefined && commitsMoved(previous, current);
  // Empty is the state of a classic group without members; describeGroups lists the members otherwise.
  if (current.members === 0 && !moved && lag > 0) {
    return { status: 'STOPPED', reason: `no members (state ${current.state || 'unknown'}); ${lag} records waiting` };
  }
  if (previous === undefined) return { status: 'OK', reason: `first evaluation; ${lag} records waiting` };
  if (!moved && lag > 0 && lagRecords(previous) > 0) {
    const seconds = Math.round((current.atMs - previous.atMs) / 1000);
    return {
      status: 'STALLED',
      reason: `no committed offset moved in ${seconds} s while ${lag} records wait (${current.members < 0 ? 'members unknown: a KIP-848 group' : `${current.members} members`})`,
    };
  }
  const trend = [...recentLags.slice(-WARNING_GROWTHS), lag];
  if (trend.length === WARNING_GROWTHS + 1 && trend.every((value, i) => i === 0 || value > trend[i - 1]!)) {
    return {
      status: 'WARNING',
      reason: `lag grew at each of the last ${WARNING_GROWTHS} evaluations: ${trend.join(' → ')} records`,
    };
  }
  return { status: 'OK', reason: moved ? `committing; ${lag} records waiting` : `caught up; ${lag} records waiting` };
}

function committedByPartition(observation: GroupObservation): Map<string, number> {
  return new Map(observation.partitions.map((p) => [`${p.topic}:${p.partition}`, p.committed]));
}

/** One group's health after an evaluation. */
export interface GroupHealth {
  groupId: string;
  status: GroupStatus;
  reason: string;
  /** Wall time (ms) since which the group has had this status (as first seen by this watch). */
  statusSince: number;
  evaluatedAt: number;
  state: string;
  members: number;
  /** The agent topics it has committed offsets for, sorted. */
  topics: readonly string[];
  /** Records waiting, summed over partitions. An ERROR keeps the last values read. */
  lagRecords: number;
  /** Age of the oldest unconsumed record (the largest over partitions); 0 when nothing waits. */
  lagSeconds: number;
  /** lagSeconds counts from the oldest sample kept for some partition: the true lag is at least this. */
  lagSecondsLowerBound: boolean;
  /** Records acknowledged per second since the previous evaluation. */
  commitRate: number;
}

export interface GroupHealthOptions {
  isAgentTopic(topic: string): boolean;
  /** agentwatch's own groups, and any others not to watch. */
  excludeGroup(groupId: string): boolean;
  /** Between the starts of two evaluations (start()); longer than the groups' commit interval. */
  intervalMs: number;
  /**
   * Agent groups watched at most, which bounds the label cardinality of the metrics built from
   * the snapshot. Groups already watched keep their place; new ones are taken in name order.
   */
  maxGroups: number;
  /** Topic-partitions whose watermark history is kept at most (default 10 000). */
  maxPartitions?: number;
  now?: () => number;
}

export interface GroupHealthStats {
  groupsWatched: number;
  /**
   * Consumer groups not examined because maxGroups agent groups were already watched: an upper
   * bound on the agent groups missed (some of them may read no agent topic), but for groups of
   * other applications (groupsWithoutAgentTopics) that moved to agent topics since they were last
   * examined (at most NOT_AGENT_RECHECK_EVALUATIONS evaluations ago).
   */
  groupsNotWatched: number;
  /** Groups not watched before whose offsets could not be read at the last evaluation. */
  groupsUnreadable: number;
  /** Groups of other applications (offsets, none on agent topics), examined once in NOT_AGENT_RECHECK_EVALUATIONS evaluations. */
  groupsWithoutAgentTopics: number;
  evaluations: number;
  /** Evaluations at which the groups or topics could not be listed (every watched group went ERROR). */
  failedEvaluations: number;
  partitionsClocked: number;
  /** Watermark samples refused because maxPartitions was reached (those partitions have no lag in seconds). */
  refusedSamples: number;
}

export type StatusChangeListener = (current: GroupHealth, previous: GroupStatus | undefined) => void;

interface Tracked {
  /** The last readable observation: what the next one is compared with. */
  last: GroupObservation | undefined;
  /** Total lag of the last readable evaluations, oldest first, at most WARNING_GROWTHS. */
  recentLags: number[];
  health: GroupHealth;
}

type Committed = { topic: string; partition: number; offset: number };
/** A group picked for this evaluation, with its committed agent offsets or why they could not be read. */
type Picked = { groupId: string; committed: Committed[] } | { groupId: string; error: string };

type TopicWatermarks = Map<number, { low: number; high: number }>;

/**
 * Evaluates the agent consumer groups every intervalMs, through an Admin the caller connected (and
 * disconnects). Groups that vanish from ListGroups (deleted, or their offsets expired, which Kafka
 * does only after offsets.retention.minutes, 7 days by default, without members) or that no longer
 * have offsets on agent topics leave the snapshot without a status change: by then they had been
 * STOPPED for the whole retention period. A caller holding an open alert for one can tell from
 * snapshot() that it is gone.
 */
export class GroupHealthWatch {
  private readonly tracked = new Map<string, Tracked>();
  /** Groups of other applications: committed offsets, none on an agent topic (see NOT_AGENT_RECHECK_EVALUATIONS). */
  private readonly notAgent = new Set<string>();
  private readonly listeners: StatusChangeListener[] = [];
  private readonly evaluatedListeners: Array<(snapshot: readonly GroupHealth[]) => void> = [];
  private readonly clock: LagClock;
  private readonly now: () => number;
  private inFlight: Promise<GroupHealth[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly counters = { groupsNotWatched: 0, groupsUnreadable: 0, evaluations: 0, failedEvaluations: 0 };

  constructor(
    private readonly admin: Admin,
    private readonly options: GroupHealthOptions,
    private readonly logger: Logger,
  ) {
    this.clock = new LagClock({ maxPartitions: options.maxPartitions ?? 10_000 });
    this.now = options.now ?? Date.now;
  }

  /** Evaluates every interval until stop(), the first time at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops the timer and waits for an evaluation in progress. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight?.catch(() => undefined);
  }

  /**
   * One evaluation of every agent group; a call while one runs shares it. Kafka errors do not
   * reject: a group that could not be read is ERROR, and when not even the groups could be listed,
   * every watched group is.
   */
  evaluate(): Promise<GroupHealth[]> {
    this.inFlight ??= this.evaluateOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** The health of every watched group after the last evaluation, by group id. */
  snapshot(): readonly GroupHealth[] {
    return [...this.tracked.values()].map((t) => t.health).sort((a, b) => (a.groupId < b.groupId ? -1 : 1));
  }

  /** Called for each group whose status differs from the last evaluation's, and for each group seen for the first time (previous undefined). */
  /** Called after each evaluation of the timer with every watched group (a group that vanished is not in it). */
  onEvaluated(listener: (snapshot: readonly GroupHealth[]) => void): void {
    this.evaluatedListeners.push(listener);
  }

  onStatusChange(listener: StatusChangeListener): void {
    this.listeners.push(listener);
  }

  stats(): GroupHealthStats {
    const clock = this.clock.stats();
    return {
      groupsWatched: this.tracked.size,
      ...this.counters,
      groupsWithoutAgentTopics: this.notAgent.size,
      partitionsClocked: clock.partitions,
      refusedSamples: clock.refusedSamples,
    };
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    // The timer runs on the monotonic clock; options.now is the wall time the results are stamped with.
    const started = performance.now();
    try {
      await this.evaluate();
      const snapshot = this.snapshot();
      for (const listener of this.evaluatedListeners) listener(snapshot);
    } catch (err) {
      this.logger.error({ err }, 'consumer group health evaluation failed; trying again at the next interval');
    }
    if (this.running) this.schedule(Math.max(0, this.options.intervalMs - (performance.now() - started)));
  }

  private async evaluateOnce(): Promise<GroupHealth[]> {
    this.counters.evaluations += 1;
    let groupIds: string[];
    let topics: Set<string>;
    try {
      const [listed, names] = await Promise.all([this.admin.listGroups(), this.admin.listTopics()]);
      // Consumer groups, and groups that only store offsets ('': assign()-based consumers). Share
      // groups ("share") and Connect workers ("connect") are not consumers of agent topics here.
      groupIds = listed.groups
        .filter(
          (g) => (g.protocolType === 'consumer' || g.protocolType === '') && !this.options.excludeGroup(g.groupId),
        )
        .map((g) => g.groupId);
      topics = new Set(names);
    } catch (err) {
      this.counters.failedEvaluations += 1;
      this.logger.warn({ err }, 'could not list consumer groups or topics; every watched group is ERROR');
      const atMs = this.now();
      const error = `listing groups and topics failed: ${messageOf(err)}`;
      for (const [groupId, tracked] of this.tracked) this.update(groupId, tracked, { atMs, error }, tracked.last);
      return [...this.snapshot()];
    }

    const picked = await this.pick(groupIds, topics);
    const descriptions = await this.describe(picked.filter((p) => !('error' in p)).map((p) => p.groupId));
    const watermarks = await this.watermarks(picked);
    const atMs = this.now();
    for (const [topic, partitions] of watermarks) {
      if (partitions instanceof Map)
        for (const [partition, w] of partitions) this.clock.record(topic, partition, w.high, atMs);
    }
    this.clock.retainTopics(new Set(watermarks.keys()));

    const kept = new Set(picked.map((p) => p.groupId));
    for (const groupId of this.tracked.keys()) if (!kept.has(groupId)) this.tracked.delete(groupId);
    for (const p of picked) {
      const tracked = this.tracked.get(p.groupId);
      this.update(p.groupId, tracked, this.observe(p, descriptions.get(p.groupId), watermarks, atMs), tracked?.last);
    }
    return [...this.snapshot()];
  }

  /**
   * The groups to evaluate: those already watched first, then the others in name order, each with
   * its committed offsets on agent topics that exist, until maxGroups agent groups are found. A
   * group with no such offsets is not an agent group; one of another application is examined again
   * only once in NOT_AGENT_RECHECK_EVALUATIONS evaluations.
   */
  private async pick(groupIds: string[], topics: ReadonlySet<string>): Promise<Picked[]> {
    const listed = new Set(groupIds);
    const evaluation = this.counters.evaluations;
    for (const groupId of this.notAgent) if (!listed.has(groupId)) this.notAgent.delete(groupId);
    const due = (groupId: string) => !this.notAgent.has(groupId) || notAgentRecheckDue(groupId, evaluation);
    const order = [
      ...[...this.tracked.keys()].filter((id) => listed.has(id)),
      ...groupIds.filter((id) => !this.tracked.has(id) && due(id)).sort(),
    ];
    const picked: Picked[] = [];
    let examined = 0;
    let unreadable = 0;
    // A few groups at a time: a cluster may hold many groups that read no agent topic, and each
    // costs a coordinator lookup and an OffsetFetch. Taken in order, so the cap picks the same ones.
    for (let from = 0; from < order.length && picked.length < this.options.maxGroups; from += FETCH_CONCURRENCY) {
      const chunk = order.slice(from, from + FETCH_CONCURRENCY);
      const results = await Promise.all(chunk.map((groupId) => this.committedOffsets(groupId, topics)));
      for (const [i, result] of results.entries()) {
        if (picked.length >= this.options.maxGroups) break;
        examined += 1;
        const groupId = chunk[i]!;
        if (typeof result === 'string') {
          if (this.tracked.has(groupId)) picked.push({ groupId, error: `fetching its offsets failed: ${result}` });
          else unreadable += 1;
        } else if (result.committed.length > 0) {
          picked.push({ groupId, committed: result.committed });
          this.notAgent.delete(groupId);
        } else if (result.otherApplication) {
          this.notAgent.add(groupId);
        } else {
          this.notAgent.delete(groupId);
        }
      }
    }
    this.counters.groupsNotWatched = order.length - examined;
    this.counters.groupsUnreadable = unreadable;
    return picked;
  }

  /**
   * The group's committed offsets on agent topics that exist, and whether it belongs to another
   * application (offsets committed, none on a topic named like an agent topic); or why they could not be read.
   */
  private async committedOffsets(
    groupId: string,
    topics: ReadonlySet<string>,
  ): Promise<{ committed: Committed[]; otherApplication: boolean } | string> {
    try {
      // Without topics, OffsetFetch returns every partition the group committed.
      const offsets = await this.admin.fetchOffsets({ groupId });
      const agentNamed = offsets.filter((t) => this.options.isAgentTopic(t.topic));
      return {
        committed: agentNamed
          .filter((t) => topics.has(t.topic))
          .flatMap((t) =>
            t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: Number(p.offset) })),
          ),
        // An agent topic being recreated (not listed for a moment) leaves its group an agent group.
        otherApplication: agentNamed.length === 0 && offsets.length > 0,
      };
    } catch (err) {
      this.logger.debug({ err, groupId }, 'could not fetch the offsets of a consumer group');
      return messageOf(err);
    }
  }

  /** Members and state per group; a failed batch is retried group by group so that one bad group does not hide the others. */
  private async describe(groupIds: string[]): Promise<Map<string, GroupDescription | string>> {
    const described = new Map<string, GroupDescription | string>();
    if (groupIds.length === 0) return described;
    try {
      for (const group of (await this.admin.describeGroups(groupIds)).groups) described.set(group.groupId, group);
      return described;
    } catch {
      // kafkajs fails the whole batch on the first group in error (e.g. a KIP-848 group).
    }
    await Promise.all(
      groupIds.map(async (groupId) => {
        try {
          const [group] = (await this.admin.describeGroups([groupId])).groups;
          described.set(groupId, group ?? 'not described');
        } catch (err) {
          // A group of the consumer protocol (KIP-848) is unknown to the classic DescribeGroups the
          // broker answers kafkajs with: its members cannot be read, its commits can.
          described.set(
            groupId,
            (err as { type?: unknown }).type === 'GROUP_ID_NOT_FOUND' ? UNDESCRIBABLE : messageOf(err),
          );
        }
      }),
    );
    return described;
  }

  /** Low and high watermarks of each topic the picked groups committed on, read once per evaluation. */
  private async watermarks(picked: Picked[]): Promise<Map<string, TopicWatermarks | string>> {
    const topics = new Set(picked.flatMap((p) => ('error' in p ? [] : p.committed.map((c) => c.topic))));
    const result = new Map<string, TopicWatermarks | string>();
    await Promise.all(
      [...topics].map(async (topic) => {
        try {
          const offsets = await this.admin.fetchTopicOffsets(topic);
          result.set(topic, new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }])));
        } catch (err) {
          result.set(topic, messageOf(err));
        }
      }),
    );
    return result;
  }

  private observe(
    picked: Picked,
    description: GroupDescription | string | undefined,
    watermarks: ReadonlyMap<string, TopicWatermarks | string>,
    atMs: number,
  ): GroupObservation | GroupReadFailure {
    if ('error' in picked) return { atMs, error: picked.error };
    if (typeof description !== 'object' && description !== UNDESCRIBABLE)
      return { atMs, error: `describing it failed: ${description ?? 'no answer'}` };
    const partitions: PartitionOffsets[] = [];
    for (const c of picked.committed) {
      const topic = watermarks.get(c.topic);
      if (typeof topic !== 'object')
        return { atMs, error: `reading the watermarks of ${c.topic} failed: ${topic ?? 'no answer'}` };
      const w = topic.get(c.partition);
      // A partition the topic no longer has (it was deleted and created again with fewer): nothing to read.
      if (w !== undefined) partitions.push({ topic: c.topic, partition: c.partition, committed: c.offset, ...w });
    }
    // A group listed with committed offsets that the classic DescribeGroups calls Dead is one of the
    // consumer protocol (KIP-848): Kafka 4.4 answers so for a live one (an empty classic group is Empty).
    if (description === UNDESCRIBABLE || description.state === 'Dead')
      return { atMs, state: 'unknown (consumer protocol, KIP-848)', members: -1, partitions };
    return { atMs, state: description.state, members: description.members.length, partitions };
  }

  /** Classifies the group, records its health, and reports a change of status. */
  private update(
    groupId: string,
    tracked: Tracked | undefined,
    current: GroupObservation | GroupReadFailure,
    previous: GroupObservation | undefined,
  ): void {
    const verdict = classifyGroup(previous, current, tracked?.recentLags ?? []);
    const before = tracked?.health;
    let health: GroupHealth;
    if ('error' in current) {
      health = {
        groupId,
        ...verdict,
        statusSince: current.atMs,
        evaluatedAt: current.atMs,
        state: before?.state ?? '',
        members: before?.members ?? 0,
        topics: before?.topics ?? [],
        lagRecords: before?.lagRecords ?? 0,
        lagSeconds: before?.lagSeconds ?? 0,
        lagSecondsLowerBound: before?.lagSecondsLowerBound ?? true,
        commitRate: 0,
      };
    } else {
      const lag = this.lagSeconds(current);
      health = {
        groupId,
        ...verdict,
        statusSince: current.atMs,
        evaluatedAt: current.atMs,
        state: current.state,
        members: current.members,
        topics: [...new Set(current.partitions.map((p) => p.topic))].sort(),
        lagRecords: lagRecords(current),
        lagSeconds: lag.seconds,
        lagSecondsLowerBound: lag.lowerBound,
        commitRate: previous === undefined ? 0 : commitRate(previous, current),
      };
    }
    if (before?.status === health.status) health.statusSince = before.statusSince;
    const recentLags = tracked?.recentLags ?? [];
    if (!('error' in current)) {
      recentLags.push(health.lagRecords);
      if (recentLags.length > WARNING_GROWTHS) recentLags.shift();
    }
    this.tracked.set(groupId, { last: 'error' in current ? previous : current, recentLags, health });
    if (before?.status !== health.status) this.announce(health, before?.status);
  }

  /** The largest age of an unconsumed record over the group's partitions. */
  private lagSeconds(observation: GroupObservation): { seconds: number; lowerBound: boolean } {
    let seconds = 0;
    let lowerBound = false;
    for (const p of observation.partitions) {
      if (partitionLag(p) === 0) continue;
      const from = p.committed < 0 ? p.low : Math.max(p.committed, p.low);
      const behind = this.clock.secondsBehind(p.topic, p.partition, from, observation.atMs);
      if (behind === undefined) {
        lowerBound = true; // over maxPartitions: no history
        continue;
      }
      seconds = Math.max(seconds, behind.seconds);
      lowerBound ||= behind.lowerBound;
    }
    return { seconds, lowerBound };
  }

  private announce(health: GroupHealth, previous: GroupStatus | undefined): void {
    const log = { groupId: health.groupId, status: health.status, previous, reason: health.reason };
    if (health.status === 'OK') this.logger.info(log, 'consumer group status changed');
    else this.logger.warn(log, 'consumer group status changed');
    for (const listener of this.listeners) {
      try {
        listener(health, previous);
      } catch (err) {
        this.logger.error({ err, groupId: health.groupId }, 'a consumer group status listener threw');
      }
    }
  }
}
