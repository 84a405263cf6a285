/**
 * The MLS flavour of the TLS presentation language (RFC 9420 §2.1, on top of RFC 8446 §3):
 * big-endian unsigned integers, fixed-size opaque arrays, variable-size vectors `<V>` whose
 * length is a QUIC-style varint of 1, 2 or 4 bytes, `optional<T>` as a presence octet, enums
 * and `select`.
 *
 * A `Codec<T>` pairs an encoder with a decoder (ts-mls style: `src/lifetime.ts` pairs
 * `lifetimeEncoder` with `lifetimeDecoder`). Decoders read from a `TlsReader`, which tracks
 * the field path and the absolute byte offset so that every failure is a `CodecError` such as
 * `SubmitMessageRequest.sendingUri: vector length 300 exceeds remaining 12 bytes at offset 40`.
 *
 * Untrusted input never drives an allocation: a length is checked against the bytes that
 * remain before anything is read or sliced, and vectors grow one decoded item at a time.
 */
import { CodecError } from '../common/errors';

/** Largest length a `<V>` prefix can carry: the 4-byte varint holds 30 bits (RFC 9420 §2.1.2). */
export const MAX_VECTOR_LENGTH = 0x3fffffff;
const MAX_UINT64 = (1n << 64n) - 1n;

export type Decoder<T> = (r: TlsReader) => T;
export type Encoder<T> = (w: TlsWriter, value: T) => void;

/** An encoder paired with its decoder. `name` is the struct name used as the root of error paths. */
export interface Codec<T> {
  readonly name: string;
  readonly encode: Encoder<T>;
  readonly decode: Decoder<T>;
}

export function codec<T>(name: string, encode: Encoder<T>, decode: Decoder<T>): Codec<T> {
  return { name, encode, decode };
}

/** Path segments are joined with '.', except vector indexes (`clients[2]`). */
function joinPath(segments: readonly string[]): string {
  let out = '';
  for (const s of segments) {
    if (out === '' || s.startsWith('[')) out += s;
    else out += `.${s}`;
  }
  return out === '' ? 'value' : out;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Cursor over untrusted bytes. `limit` shrinks while a vector's contents are decoded, so an
 * item can never read past the end of the vector that holds it.
 */
export class TlsReader {
  private pos = 0;
  private limit: number;
  private readonly path: string[];

  constructor(
    private readonly bytes: Uint8Array,
    rootName?: string,
  ) {
    this.limit = bytes.length;
    this.path = rootName === undefined ? [] : [rootName];
  }

  /** Absolute offset of the next byte to read. */
  get offset(): number {
    return this.pos;
  }

  /** Bytes left before the current limit (the end of the enclosing vector or of the input). */
  get remaining(): number {
    return this.limit - this.pos;
  }

  /** Throw a CodecError naming the current field path and `at` (default: the current offset). */
  fail(message: string, at: number = this.pos): never {
    throw new CodecError(`${joinPath(this.path)}: ${message} at offset ${at}`);
  }

  /** Decode one named field: its name is part of the path of any error raised inside. */
  field<T>(name: string, dec: Codec<T> | Decoder<T>): T {
    this.path.push(name);
    try {
      return typeof dec === 'function' ? dec(this) : dec.decode(this);
    } finally {
      this.path.pop();
    }
  }

  private need(n: number, what: string): void {
    if (n > this.remaining) this.fail(`${what} needs ${n} bytes but only ${this.remaining} remain`);
  }

  uint8(): number {
    this.need(1, 'uint8');
    return this.bytes[this.pos++]!;
  }

  uint16(): number {
    this.need(2, 'uint16');
    const b = this.bytes;
    const v = (b[this.pos]! << 8) | b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  uint32(): number {
    this.need(4, 'uint32');
    const b = this.bytes;
    const v = b[this.pos]! * 0x1000000 + ((b[this.pos + 1]! << 16) | (b[this.pos + 2]! << 8) | b[this.pos + 3]!);
    this.pos += 4;
    return v;
  }

  uint64(): bigint {
    this.need(8, 'uint64');
    const hi = BigInt(this.uint32());
    const lo = BigInt(this.uint32());
    return (hi << 32n) | lo;
  }

  /** `opaque x[n]` / `uint8 x[n]`: a copy of the next n bytes. */
  fixed(n: number): Uint8Array {
    this.need(n, `fixed-size field of ${n} bytes`);
    return this.take(n);
  }

  /**
   * The varint length of a `<V>` vector (RFC 9420 §2.1.2): prefix 00/01/10 selects 1/2/4 bytes,
   * 11 is reserved (the 8-byte form is not allowed in MLS). The minimum encoding is required.
   */
  varint(): number {
    const start = this.pos;
    this.need(1, 'vector length');
    const first = this.bytes[this.pos]!;
    const prefix = first >> 6;
    if (prefix === 3) this.fail(`reserved varint prefix 0b11 (8-byte lengths are not allowed)`, start);
    const size = 1 << prefix;
    this.need(size, `${size}-byte vector length`);
    let v = first & 0x3f;
    for (let i = 1; i < size; i++) v = v * 256 + this.bytes[this.pos + i]!;
    this.pos += size;
    if ((size === 2 && v < 64) || (size === 4 && v < 16384)) {
      this.fail(`non-minimal varint: length ${v} encoded in ${size} bytes`, start);
    }
    return v;
  }

  /** Read a vector length and check that the vector fits in what remains. */
  vectorLength(): number {
    const start = this.pos;
    const len = this.varint();
    if (len > this.remaining) this.fail(`vector length ${len} exceeds remaining ${this.remaining} bytes`, start);
    return len;
  }

  /** `opaque x<V>`: a copy of the vector's contents (without the length prefix). */
  opaque(): Uint8Array {
    return this.take(this.vectorLength());
  }

  /** `opaque x<V>` holding UTF-8 text (the drafts' `string`, URIs). Invalid UTF-8 is rejected. */
  utf8(): string {
    const start = this.pos;
    const raw = this.opaque();
    try {
      return utf8Decoder.decode(raw);
    } catch {
      return this.fail('invalid UTF-8 in string', start);
    }
  }

  /** `T x<V>`: decode items until the vector's contents are used up exactly. */
  vector<T>(item: Codec<T> | Decoder<T>): T[] {
    const len = this.vectorLength();
    return this.within(len, () => {
      const items: T[] = [];
      while (this.remaining > 0) {
        const before = this.pos;
        items.push(this.field(`[${items.length}]`, item));
        // An item that consumes nothing would loop forever; no MIMI or MLS vector holds such items.
        if (this.pos === before) this.fail('vector item consumed no bytes');
      }
      return items;
    });
  }

  /** `optional<T>`: presence octet 0 (absent) or 1 (present); any other value is an error. */
  optional<T>(item: Codec<T> | Decoder<T>): T | undefined {
    const at = this.pos;
    const present = this.uint8();
    if (present === 0) return undefined;
    if (present !== 1) this.fail(`invalid optional presence octet ${present}`, at);
    return typeof item === 'function' ? item(this) : item.decode(this);
  }

  /** Run `fn` with the limit set to the next `len` bytes; it must consume exactly those bytes. */
  within<T>(len: number, fn: () => T): T {
    this.need(len, 'bounded region');
    const outer = this.limit;
    const end = this.pos + len;
    this.limit = end;
    try {
      const value = fn();
      if (this.pos !== end) this.fail(`${end - this.pos} unread bytes inside vector`);
      return value;
    } finally {
      this.limit = outer;
    }
  }

  /** Fail unless every byte up to the current limit was read (no trailing bytes). */
  done(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} trailing bytes`);
  }

  /** Run `fn` (which skips over a structure) and return a copy of the exact bytes it consumed. */
  span(fn: () => void): Uint8Array {
    const start = this.pos;
    fn();
    return this.bytes.slice(start, this.pos);
  }

  /** Skip the next `n` bytes (already checked to be present). */
  skip(n: number): void {
    this.need(n, `${n} bytes`);
    this.pos += n;
  }

  private take(n: number): Uint8Array {
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Growable output buffer. Encoding errors (values a codec cannot represent) are CodecErrors too. */
export class TlsWriter {
  private buf: Uint8Array;
  private len = 0;
  private readonly path: string[];

  constructor(rootName?: string, initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
    this.path = rootName === undefined ? [] : [rootName];
  }

  get length(): number {
    return this.len;
  }

  fail(message: string): never {
    throw new CodecError(`${joinPath(this.path)}: cannot encode: ${message}`);
  }

  field<T>(name: string, enc: Codec<T> | Encoder<T>, value: T): void {
    this.path.push(name);
    try {
      if (typeof enc === 'function') enc(this, value);
      else enc.encode(this, value);
    } finally {
      this.path.pop();
    }
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private checkInt(v: number, max: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) this.fail(`${what} out of range: ${v}`);
  }

  uint8(v: number): void {
    this.checkInt(v, 0xff, 'uint8');
    this.reserve(1);
    this.buf[this.len++] = v;
  }

  uint16(v: number): void {
    this.checkInt(v, 0xffff, 'uint16');
    this.reserve(2);
    this.buf[this.len++] = v >> 8;
    this.buf[this.len++] = v & 0xff;
  }

  uint32(v: number): void {
    this.checkInt(v, 0xffffffff, 'uint32');
    this.reserve(4);
    this.buf[this.len++] = (v >>> 24) & 0xff;
    this.buf[this.len++] = (v >>> 16) & 0xff;
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
  }

  uint64(v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v > MAX_UINT64) this.fail(`uint64 out of range: ${String(v)}`);
    this.uint32(Number(v >> 32n));
    this.uint32(Number(v & 0xffffffffn));
  }

  /** `opaque x[n]`: the value must be exactly n bytes. */
  fixed(n: number, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array) || bytes.length !== n) {
      this.fail(`fixed-size field needs ${n} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`);
    }
    this.raw(bytes);
  }

  /** Bytes written as they are: no length prefix. */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** A `<V>` length prefix in its minimum encoding (RFC 9420 §2.1.2). */
  varint(n: number): void {
    this.checkInt(n, MAX_VECTOR_LENGTH, 'vector length');
    if (n < 64) this.uint8(n);
    else if (n < 16384) this.uint16(n | 0x4000);
    else this.uint32((n | 0x80000000) >>> 0);
  }

  opaque(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) this.fail(`expected bytes, got ${typeof bytes}`);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  utf8(s: string): void {
    if (typeof s !== 'string') this.fail(`expected a string, got ${typeof s}`);
    if (LONE_SURROGATE.test(s)) this.fail('string contains a lone UTF-16 surrogate');
    this.opaque(utf8Encoder.encode(s));
  }

  vector<T>(items: readonly T[], item: Codec<T> | Encoder<T>): void {
    if (!Array.isArray(items)) this.fail(`expected an array, got ${typeof items}`);
    this.prefixed(() => items.forEach((v, i) => this.field(`[${i}]`, item, v)));
  }

  optional<T>(value: T | undefined, item: Codec<T> | Encoder<T>): void {
    if (value === undefined) {
      this.uint8(0);
      return;
    }
    this.uint8(1);
    if (typeof item === 'function') item(this, value);
    else item.encode(this, value);
  }

  /** Write whatever `fn` writes, preceded by its length as a varint. */
  prefixed(fn: () => void): void {
    // Reserve the widest prefix, write the contents, then shift them if a shorter prefix suffices.
    this.reserve(4);
    const prefixAt = this.len;
    this.len += 4;
    fn();
    const contentLen = this.len - prefixAt - 4;
    if (contentLen > MAX_VECTOR_LENGTH) this.fail(`vector of ${contentLen} bytes exceeds ${MAX_VECTOR_LENGTH}`);
    const prefixLen = contentLen < 64 ? 1 : contentLen < 16384 ? 2 : 4;
    if (prefixLen !== 4) this.buf.copyWithin(prefixAt + prefixLen, prefixAt + 4, this.len);
    this.len = prefixAt;
    this.varint(contentLen);
    this.len += contentLen;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

// ---- primitive codecs -------------------------------------------------------------------

export const uint8 = codec<number>(
  'uint8',
  (w, v) => w.uint8(v),
  (r) => r.uint8(),
);
export const uint16 = codec<number>(
  'uint16',
  (w, v) => w.uint16(v),
  (r) => r.uint16(),
);
export const uint32 = codec<number>(
  'uint32',
  (w, v) => w.uint32(v),
  (r) => r.uint32(),
);
export const uint64 = codec<bigint>(
  'uint64',
  (w, v) => w.uint64(v),
  (r) => r.uint64(),
);
/** `opaque x<V>` */
export const opaque = codec<Uint8Array>(
  'opaque',
  (w, v) => w.opaque(v),
  (r) => r.opaque(),
);
/** UTF-8 text in an `opaque x<V>`. */
export const utf8 = codec<string>(
  'string',
  (w, v) => w.utf8(v),
  (r) => r.utf8(),
);

/** `opaque x[n]` */
export function fixedOpaque(n: number): Codec<Uint8Array> {
  return codec(
    `opaque[${n}]`,
    (w, v) => w.fixed(n, v),
    (r) => r.fixed(n),
  );
}

/** `T x<V>` */
export function vectorOf<T>(item: Codec<T>): Codec<T[]> {
  return codec(
    `${item.name}<V>`,
    (w, v) => w.vector(v, item),
    (r) => r.vector(item),
  );
}

/** `optional<T>` */
export function optionalOf<T>(item: Codec<T>): Codec<T | undefined> {
  return codec(
    `optional<${item.name}>`,
    (w, v) => w.optional(v, item),
    (r) => r.optional(item),
  );
}

// ---- enums ------------------------------------------------------------------------------

/** An enum's names and wire values, e.g. `{ success: 0, wrongEpoch: 1 }` as const. */
export type EnumTable = Readonly<Record<string, number>>;

/**
 * A TLS enum. The width follows the enum's maximum value as RFC 8446 §3.8 says: `(255)` is one
 * byte, `(65535)` two. Unknown values are rejected on decode; `reserved` names may be excluded
 * by leaving them out of the table.
 */
export function enumCodec<E extends EnumTable>(name: string, table: E, width: 1 | 2 = 1): Codec<keyof E & string> {
  const byValue = new Map<number, keyof E & string>();
  for (const [k, v] of Object.entries(table)) byValue.set(v, k);
  return codec<keyof E & string>(
    name,
    (w: TlsWriter, v) => {
      const n = Object.prototype.hasOwnProperty.call(table, v) ? table[v] : undefined;
      if (n === undefined) return w.fail(`unknown ${name} name '${String(v)}'`);
      if (width === 1) w.uint8(n);
      else w.uint16(n);
    },
    (r: TlsReader) => {
      const at = r.offset;
      const n = width === 1 ? r.uint8() : r.uint16();
      const k = byValue.get(n);
      if (k === undefined) return r.fail(`unknown ${name} value ${n}`, at);
      return k;
    },
  );
}

// ---- whole-message helpers ------------------------------------------------------------------

/** Encode whatever `fn` writes (for ad-hoc records that have no Codec of their own). */
export function writeTls(fn: (w: TlsWriter) => void): Uint8Array {
  const w = new TlsWriter();
  fn(w);
  return w.finish();
}

/** Decode exactly one value from `bytes`; trailing bytes are an error. */
export function decodeAll<T>(bytes: Uint8Array, dec: Pick<Codec<T>, 'name' | 'decode'>): T {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(`${dec.name}: input is not a Uint8Array`);
  const r = new TlsReader(bytes, dec.name);
  const value = dec.decode(r);
  if (r.remaining !== 0) r.fail(`${r.remaining} trailing bytes after ${dec.name}`);
  return value;
}

/** Decode one or more values laid end to end (e.g. concatenated FanoutMessages, protocol-06 §5.5). */
export function decodeConcatenated<T>(bytes: Uint8Array, dec: Pick<Codec<T>, 'name' | 'decode'>): T[] {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(`${dec.name}: input is not a Uint8Array`);
  const r = new TlsReader(bytes);
  if (r.remaining === 0) r.fail(`empty body: at least one ${dec.name} expected`);
  const out: T[] = [];
  while (r.remaining > 0) out.push(r.field(`${dec.name}[${out.length}]`, dec.decode));
  return out;
}

export function encodeValue<T>(value: NoInfer<T>, enc: Pick<Codec<T>, 'name' | 'encode'>): Uint8Array {
  const w = new TlsWriter(enc.name);
  enc.encode(w, value);
  return w.finish();
}

export function encodeConcatenated<T>(
  values: readonly NoInfer<T>[],
  enc: Pick<Codec<T>, 'name' | 'encode'>,
): Uint8Array {
  const w = new TlsWriter();
  values.forEach((v, i) => w.field(`${enc.name}[${i}]`, enc.encode, v));
  return w.finish();
}
