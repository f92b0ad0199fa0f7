// What agentwatch needs to watch an accelerated simulated fleet: the fleet's declared clock, and
// event-time waits that scale with the speed.
//
// The simulated fleet stamps each record with the event time it stands for (a task's answer at the
// task's time plus its simulated latency), but it does its work on the wall clock: a pause of h
// seconds anywhere in its chain of answers (its own process, the broker, agentwatch sharing the
// machine) reaches the wire as records stamped h·speed of event time behind their neighbours. At 30×
// a 2 s pause is a minute, the default task TTL: measured with the demo on 2 cores, a partition's
// records were up to 42 s of event time out of order with the machine otherwise idle, 115 s with one
// CPU-bound process beside it, and a CI run's demo saw 39 answers arrive after their tasks had timed
// out (its healthy classify agent alerted on timeouts). So:
// - the task TTL covers a TTL_WALL_MS pause at the fleet's speed: a spurious timeout is a false
//   signal (a timeout rate whose baseline is 0);
// - a window's lateness covers LATENESS_WALL_MS: an answer later than that is left out of its window
//   (counted), which costs one sample, while a longer lateness delays every alert by as much (and
//   the demo's last fault ends shortly before its fleet does).
// Neither is ever shorter than its default.

/** The wall-time pause of the fleet that the task TTL absorbs. */
export const TTL_WALL_MS = 5_000;
/** The wall-time pause of the fleet that a window's lateness absorbs. */
export const LATENESS_WALL_MS = 2_000;

/**
 * The agentwatch options for a fleet running `speed` times faster than the wall clock whose event
 * time was `eventTime` at wall time `wallTime` (both ms since the epoch).
 */
export function acceleratedSettings(speed: number, eventTime: number, wallTime: number): Record<string, string> {
  return {
    EVENT_TIME_SPEED: String(speed),
    EVENT_TIME_ANCHOR: `${Math.round(eventTime)}@${Math.round(wallTime)}`,
    DETECT_LATENESS_MS: String(Math.max(5_000, Math.round(speed * LATENESS_WALL_MS))),
    CORRELATE_TASK_TTL_MS: String(Math.max(60_000, Math.round(speed * TTL_WALL_MS))),
  };
}
