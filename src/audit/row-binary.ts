// ClickHouse RowBinary, written and read: the bytes of the audit chain's canonical form and of its
// inserts. Every value is fixed-width little-endian or length-prefixed (a LEB128 varint), so a
// sequence of values has exactly one reading. Types used by the audit tables:
//   String: varint byte length, bytes          UInt8/16/32/64, Int64: little-endian
//   DateTime64(3): Int64 ms since the epoch     Map(String, String): varint count, then key, value pairs
//   LowCardinality(String): as String

const INITIAL_BYTES = 1 << 20;

/** A growable buffer that RowBinary values are appended to (off the V8 heap once it outgrows the pool). */
export class RowBinaryWriter {
  private buffer: Buffer;
  /** Bytes written so far. */
  length = 0;

  constructor(initialBytes = INITIAL_BYTES) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** The bytes written so far (a view, valid until the next write). */
  bytes(start = 0, end = this.length): Buffer {
    return this.buffer.subarray(start, end);
  }

  /** Forgets what was written, keeping the memory. */
  reset(): void {
    this.length = 0;
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  uint8(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  uint16(value: number): void {
    this.reserve(2);
    this.buffer[this.length++] = value & 0xff;
    this.buffer[this.length++] = (value >>> 8) & 0xff;
  }

  uint32(value: number): void {
    this.reserve(4);
    const buffer = this.buffer;
    let at = this.length;
    buffer[at++] = value & 0xff;
    buffer[at++] = (value >>> 8) & 0xff;
    buffer[at++] = (value >>> 16) & 0xff;
    buffer[at++] = value >>> 24;
    this.length = at;
  }

  /** UInt64 from a decimal string (Kafka offsets). */
  uint64(decimal: string): void {
    if (decimal.length <= 15) {
      this.int64(Number(decimal)); // exact below 2^53, and the same bytes for values below 2^63
      return;
    }
    this.reserve(8);
    this.length = this.buffer.writeBigUInt64LE(BigInt(decimal), this.length);
  }

  /** Int64 from a number (a safe integer) or a decimal string. */
  int64(value: number | string): void {
    const number = typeof value === 'number' ? value : value.length <= 15 ? Number(value) : Number.NaN;
    this.reserve(8);
    if (Number.isSafeInteger(number)) {
      // Two 32-bit halves: no BigInt for the common case (offsets, timestamps, -1).
      const low = number % 0x1_0000_0000;
      const high = Math.floor(number / 0x1_0000_0000);
      const buffer = this.buffer;
      let at = this.length;
      const unsignedLow = low < 0 ? low + 0x1_0000_0000 : low;
      buffer[at++] = unsignedLow & 0xff;
      buffer[at++] = (unsignedLow >>> 8) & 0xff;
      buffer[at++] = (unsignedLow >>> 16) & 0xff;
      buffer[at++] = unsignedLow >>> 24;
      buffer[at++] = high & 0xff;
      buffer[at++] = (high >> 8) & 0xff;
      buffer[at++] = (high >> 16) & 0xff;
      buffer[at++] = (high >> 24) & 0xff;
      this.length = at;
    } else {
      this.length = this.buffer.writeBigInt64LE(BigInt(value), this.length);
    }
  }

  varint(value: number): void {
    this.reserve(10);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.length++] = rest;
  }

  /** A String column from text (written as UTF-8). */
  string(text: string): void {
    const length = text.length;
    if (length <= 64) {
      // Short text, as most cells are: copied byte by byte while it is ASCII (a native call per
      // cell costs more), with its one-byte length in front.
      this.reserve(length + 1);
      const buffer = this.buffer;
      const start = this.length;
      buffer[start] = length;
      let at = start + 1;
      for (let i = 0; i < length; i += 1) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) {
          at = -1;
          break;
        }
        buffer[at++] = code;
      }
      if (at >= 0) {
        this.length = at;
        return;
      }
    }
    const bytes = Buffer.byteLength(text, 'utf8');
    this.varint(bytes);
    this.reserve(bytes);
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  /** Raw bytes (values already in RowBinary), copied. */
  append(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** A String column from bytes, copied as they are. */
  stringBytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }
}

/** Reads RowBinary values in order from a buffer (for tests and for reading rows back). */
export class RowBinaryReader {
  position = 0;

  constructor(private readonly buffer: Buffer) {}

  get done(): boolean {
    return this.position >= this.buffer.length;
  }

  uint8(): number {
    return this.buffer[this.position++]!;
  }

  uint16(): number {
    const value = this.buffer.readUInt16LE(this.position);
    this.position += 2;
    return value;
  }

  uint32(): number {
    const value = this.buffer.readUInt32LE(this.position);
    this.position += 4;
    return value;
  }

  uint64(): string {
    const value = this.buffer.readBigUInt64LE(this.position);
    this.position += 8;
    return value.toString();
  }

  int64(): string {
    const value = this.buffer.readBigInt64LE(this.position);
    this.position += 8;
    return value.toString();
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.buffer[this.position++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  }

  stringBytes(): Buffer {
    const length = this.varint();
    const bytes = this.buffer.subarray(this.position, this.position + length);
    this.position += length;
    return bytes;
  }

  string(): string {
    return this.stringBytes().toString('utf8');
  }
}
