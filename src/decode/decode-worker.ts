// A decode worker thread (INGEST_DECODE_WORKERS): decodes the records of packed batches with the same
// RecordDecoder as the main thread and answers with packed facts (packed-batch.ts). It decodes no
// Confluent-framed value (DecodeWorkers keeps those on the main thread, where the schemas are), so it
// never asks a registry.

import { parentPort, workerData } from 'node:worker_threads';
import { packFacts, unpackRecords, type PackedFacts, type PackedRecords } from './packed-batch.js';
import { RecordDecoder } from './record-decoder.js';

/** What the main thread gives a worker when it starts it. */
export interface DecodeWorkerSettings {
  maxPayloadBytes: number;
  /** Send the JSON bodies back (redaction or the events file read them). */
  keepJsonBody: boolean;
}

export interface DecodeRequest {
  id: number;
  records: PackedRecords;
}

export interface DecodeReply {
  id: number;
  facts: PackedFacts;
}

const settings = workerData as DecodeWorkerSettings;
const decoder = new RecordDecoder(
  {
    schemaById: () => Promise.reject(new Error('a decode worker is never given a Confluent-framed value')),
  },
  { maxPayloadBytes: settings.maxPayloadBytes },
);

parentPort?.on('message', (request: DecodeRequest) => {
  const records = unpackRecords(request.records);
  const events = records.map((record) => decoder.decodeRecord(record));
  const facts = packFacts(events, settings.keepJsonBody);
  const reply: DecodeReply = { id: request.id, facts };
  parentPort!.postMessage(reply, [facts.ints]);
});
