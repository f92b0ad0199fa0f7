// An ingest worker thread (INGEST_WORKERS): for the records of a packed batch it does what the main
// thread would do with them before correlation, decoding them with the same RecordDecoder and writing
// each one's audit row tail (the hashed columns after the row's chain position), and answers with
// packed facts (src/decode/packed-batch.ts). It gets no Confluent-framed value (IngestWorkers keeps
// those on the main thread, where the schemas are), so it never asks a registry; the main thread
// chains and hashes the rows, since only it knows each partition's chain tail.

import { parentPort, workerData } from 'node:worker_threads';
import { createRedactor } from './audit/index.js';
import type { UnparsedPayloadPolicy } from './config/index.js';
import { RecordDecoder, type PackedFacts, type PackedRecords } from './decode/index.js';
import { ingestBatch } from './ingest-workers.js';

/** What the main thread gives a worker when it starts it. */
export interface IngestWorkerSettings {
  maxPayloadBytes: number;
  /** The audit's redaction (AUDIT_REDACT_PATHS, AUDIT_UNPARSED_PAYLOAD): the row tails store redacted payloads. */
  redactPaths: readonly string[];
  unparsedPayload: UnparsedPayloadPolicy;
}

export interface IngestRequest {
  id: number;
  records: PackedRecords;
}

/** The batch's facts, or why the worker could not make them. */
export type IngestReply = { id: number; facts: PackedFacts } | { id: number; error: string };

const settings = workerData as IngestWorkerSettings;
const tools = {
  decoder: new RecordDecoder(
    { schemaById: () => Promise.reject(new Error('an ingest worker is never given a Confluent-framed value')) },
    { maxPayloadBytes: settings.maxPayloadBytes },
  ),
  redact: createRedactor(settings.redactPaths, settings.unparsedPayload),
};

parentPort?.on('message', (request: IngestRequest) => {
  let reply: IngestReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const facts = ingestBatch(request.records, tools);
    reply = { id: request.id, facts };
    transfer = [facts.ints, facts.numbers, facts.rowTails!.bytes, facts.rowTails!.ends];
  } catch (err) {
    reply = { id: request.id, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply, transfer);
});
