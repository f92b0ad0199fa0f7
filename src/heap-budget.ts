// Whether V8's heap limit leaves room for what the configured caps let agentwatch hold: its agents'
// windows and baselines (DETECT_MAX_AGENTS), the correlator's tables of tasks in flight and
// recently finished (CORRELATE_MAX_INFLIGHT, CORRELATE_MAX_RECENT), and while a backlog is read,
// the records read and not yet committed (INGEST_MAX_PENDING_RECORDS) besides the fetch that
// kafkajs holds (up to 10 MB of records, as objects). A heap capped below that
// (NODE_OPTIONS=--max-old-space-size, or the default Node derives from the memory it sees) runs
// out once the fleet fills the caps, hours or days after the start: the start says so instead.
// The per-agent and per-task sizes are the memory bench's (bench/README.md, "Memory"); the
// per-record one is a heap snapshot's of agentwatch catching up a backlog of A2A records (about
// 90,000 records held, 117 MB), where a 190 MB heap ran out.

/** Live heap per agent: open windows with their examples, the closed ones kept for pooling, profiles, baseline, last report. */
export const HEAP_BYTES_PER_AGENT = 5_000;
/** Live heap per task in the correlator's tables (in flight or recently finished): its key, ids and column entries. */
export const HEAP_BYTES_PER_TASK = 150;
/** A record read and not yet committed: kafkajs's message (its strings, buffers, headers), its event, its audit row. */
export const HEAP_BYTES_PER_PENDING_RECORD = 1_300;
/** Code and modules, and kafkajs's fetch being handed over (up to 10 MB of records, about 4× that as objects). */
export const HEAP_BYTES_BASE = 88 * 2 ** 20;
/**
 * The limit wanted, as a multiple of the live heap the caps allow: V8 collects far more often (and
 * spends the CPU on it) as the live heap nears its limit.
 */
export const HEAP_HEADROOM = 1.5;

export interface HeapCaps {
  detect: { maxAgents: number };
  correlate: { maxInFlight: number; maxRecent: number };
  ingest: { maxPendingRecords: number };
}

/** The live heap, in bytes, that the caps allow once the fleet fills them. */
export function heapNeeded(caps: HeapCaps): number {
  return (
    HEAP_BYTES_BASE +
    caps.detect.maxAgents * HEAP_BYTES_PER_AGENT +
    (caps.correlate.maxInFlight + caps.correlate.maxRecent) * HEAP_BYTES_PER_TASK +
    caps.ingest.maxPendingRecords * HEAP_BYTES_PER_PENDING_RECORD
  );
}

/** A warning naming the settings and the fix when `heapLimitBytes` is below HEAP_HEADROOM × heapNeeded(caps); undefined when it is not. */
export function heapLimitWarning(heapLimitBytes: number, caps: HeapCaps): string | undefined {
  const needed = heapNeeded(caps);
  const wanted = Math.ceil((HEAP_HEADROOM * needed) / 2 ** 20);
  if (heapLimitBytes >= wanted * 2 ** 20) return undefined;
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  return (
    `the V8 heap limit is ${mb(heapLimitBytes)} MB, and full caps (DETECT_MAX_AGENTS=${caps.detect.maxAgents}, ` +
    `CORRELATE_MAX_INFLIGHT=${caps.correlate.maxInFlight}, CORRELATE_MAX_RECENT=${caps.correlate.maxRecent}, ` +
    `INGEST_MAX_PENDING_RECORDS=${caps.ingest.maxPendingRecords}) ` +
    `hold about ${mb(needed)} MB: raise it to at least ${wanted} MB (NODE_OPTIONS=--max-old-space-size=${wanted}, ` +
    `or more memory for the container) or lower those caps, or agentwatch may run out of memory and exit when the fleet fills them or a backlog is read`
  );
}
