/**
 * Just enough of the MLS flavour of the TLS presentation language (RFC 9420 §2.1) for the structs
 * this folder owns (participant list, app_data_dictionary, stored-state envelopes): big-endian
 * integers and `<V>` vectors with a 1/2/4-byte varint length (RFC 9420 §2.1.2). Internal to
 * src/mls; the MIMI wire codecs live in src/mimi/wire.
 */
import { CodecError } from '../common/errors';

const MAX_VARINT = 0x3fffffff;

export class TlsWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  private push(chunk: Uint8Array): this {
    this.chunks.push(chunk);
    this.size += chunk.length;
    return this;
  }

  uint8(v: number): this {
    return this.push(Uint8Array.of(v & 0xff));
  }

  uint16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new CodecError(`uint16 out of range: ${v}`);
    return this.push(Uint8Array.of(v >>> 8, v & 0xff));
  }

  uint32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new CodecError(`uint32 out of range: ${v}`);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    return this.push(b);
  }

  uint64(v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v);
    return this.push(b);
  }

  /** RFC 9420 §2.1.2: the shortest of the 1-, 2- or 4-byte encodings. */
  varint(n: number): this {
    if (n < 0x40) return this.uint8(n);
    if (n < 0x4000) return this.uint16(0x4000 | n);
    if (n <= MAX_VARINT) return this.uint32((0x80000000 | n) >>> 0);
    throw new CodecError(`vector length ${n} exceeds the MLS varint range`);
  }

  /** `opaque data<V>` */
  bytes(data: Uint8Array): this {
    return this.varint(data.length).push(data);
  }

  /** `T items<V>`: the length prefix counts bytes, not items. */
  vector<T>(items: readonly T[], writeItem: (w: TlsWriter, item: T) => void): this {
    const inner = new TlsWriter();
    for (const item of items) writeItem(inner, item);
    return this.bytes(inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Cursor over untrusted bytes; every failure is a `CodecError` naming `what` and the offset. */
export class TlsReader {
  private pos = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly what: string,
    private readonly end: number = data.length,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  private take(n: number): Uint8Array {
    if (n > this.remaining) this.fail(`needs ${n} bytes, ${this.remaining} left`);
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  fail(message: string): never {
    throw new CodecError(`${this.what}: ${message} at offset ${this.pos}`);
  }

  uint8(): number {
    return this.take(1)[0]!;
  }

  uint16(): number {
    const b = this.take(2);
    return (b[0]! << 8) | b[1]!;
  }

  uint32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }

  uint64(): bigint {
    const b = this.take(8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
  }

  /** RFC 9420 §2.1.2: prefix 0b11 is invalid and the encoding MUST be minimal. */
  varint(): number {
    if (this.remaining < 1) this.fail('needs a varint, 0 bytes left');
    const prefix = this.data[this.pos]! >> 6;
    if (prefix === 0) return this.uint8();
    if (prefix === 1) {
      const v = this.uint16() & 0x3fff;
      if (v < 0x40) this.fail('non-minimal varint');
      return v;
    }
    if (prefix === 2) {
      const v = this.uint32() & 0x3fffffff;
      if (v < 0x4000) this.fail('non-minimal varint');
      return v;
    }
    return this.fail('invalid varint prefix 0b11');
  }

  /** `opaque data<V>`; returns a copy so callers may keep it after the input buffer is reused. */
  bytes(): Uint8Array {
    const n = this.varint();
    return this.take(n).slice();
  }

  /** `T items<V>`: items are decoded until the vector's bytes are used up exactly. */
  vector<T>(readItem: (r: TlsReader) => T): T[] {
    const n = this.varint();
    if (n > this.remaining) this.fail(`vector of ${n} bytes, ${this.remaining} left`);
    const inner = new TlsReader(this.data, this.what, this.pos + n);
    inner.pos = this.pos;
    const items: T[] = [];
    while (inner.remaining > 0) items.push(readItem(inner));
    this.pos += n;
    return items;
  }

  /** Fail unless every byte was consumed (no trailing garbage). */
  done(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} trailing bytes`);
  }
}
