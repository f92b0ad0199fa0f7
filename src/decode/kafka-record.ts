// The Kafka record as the tap hands it to decode: coordinates, key and headers (as UTF-8 text, and as bytes) and the raw value.

export interface KafkaRecord {
  topic: string;
  partition: number;
  /** Offset as a decimal string (Kafka offsets are int64). */
  offset: string;
  /** Record timestamp in ms since the epoch (CreateTime or LogAppendTime): the event time. */
  timestamp: number;
  /** The key as UTF-8 text (what semantics read), null for a null key. */
  key: string | null;
  /** The key's bytes as sent (what the audit row stores); absent: the UTF-8 bytes of `key`. */
  keyBytes?: Buffer | null;
  /** Header values as UTF-8 text, a repeated header's values joined by ',' (what semantics read). */
  headers: Record<string, string>;
  /** Each header's name and value bytes as sent, a repeated header once per value (what the audit row stores); absent: `headers`. */
  headerPairs?: ReadonlyArray<readonly [string, Buffer]>;
  value: Buffer | null;
}
