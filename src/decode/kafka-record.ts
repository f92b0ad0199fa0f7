// The Kafka record as the tap hands it to decode: coordinates, key, headers (as UTF-8 strings) and the raw value.

export interface KafkaRecord {
  topic: string;
  partition: number;
  /** Offset as a decimal string (Kafka offsets are int64). */
  offset: string;
  /** Record timestamp in ms since the epoch (CreateTime or LogAppendTime): the event time. */
  timestamp: number;
  key: string | null;
  headers: Record<string, string>;
  value: Buffer | null;
}
