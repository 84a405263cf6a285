/**
 * A small CBOR (RFC 8949) decoder and deterministic encoder, sized for MIMI content
 * (draft-ietf-mimi-content-08 §6).
 *
 * - The encoder always produces core deterministic encoding (RFC 8949 §4.2.1): shortest heads, definite
 *   lengths only, map entries sorted bytewise by the encoded key, floats in their shortest exact width.
 * - The decoder is strict about well-formedness and safety: it rejects truncated input, trailing bytes,
 *   reserved additional-information values, indefinite lengths (MIMI content §6.1 forbids them everywhere),
 *   lengths or counts larger than the bytes left (it never allocates from an untrusted length), nesting deeper
 *   than a limit, invalid UTF-8 and duplicate map keys. Deviations from deterministic encoding are not errors
 *   at this layer: they are reported as `violations`, so the content layer decides how to apply §6.
 *
 * Data model mapping (`CborValue`):
 * - integers: `number` when within ±(2^53−1), otherwise `bigint` (up to the 64-bit range of major types 0/1);
 * - bstr: `Uint8Array`; tstr: `string`; arrays: JS arrays; maps: `CborMap` (keeps entries in wire order);
 * - false/true/null/undefined: the JS values; other simple values: `CborSimple`;
 * - floats: `CborFloat` (kept apart from integers so that 1.0 and 1 round-trip as what they were);
 * - tags: `CborTag` (bignums, tags 2/3, are kept as tags, not converted).
 */
import { CodecError } from '../../common/errors';
import { compareBytes, toHex } from './hex';

export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | readonly CborValue[]
  | CborMap
  | CborTag
  | CborFloat
  | CborSimple;

/** A CBOR map. Entries keep the order they were given or decoded in; the encoder sorts them. */
export class CborMap {
  readonly entries: readonly (readonly [CborValue, CborValue])[];

  constructor(entries: Iterable<readonly [CborValue, CborValue]> = []) {
    this.entries = [...entries];
  }

  get size(): number {
    return this.entries.length;
  }

  /** Whether an entry has this integer or text key. */
  has(key: number | string): boolean {
    return this.entries.some(([k]) => k === key);
  }

  /** The value for an integer or text key; `undefined` when absent (use `has` to tell CBOR undefined apart). */
  get(key: number | string): CborValue | undefined {
    return this.entries.find(([k]) => k === key)?.[1];
  }
}

/** A tagged data item (RFC 8949 §3.4). */
export class CborTag {
  constructor(
    readonly tag: number | bigint,
    readonly value: CborValue,
  ) {}
}

/** A floating-point number (major type 7, additional information 25/26/27). */
export class CborFloat {
  constructor(readonly value: number) {}
}

/** A simple value other than false/true/null/undefined: 0..19 or 32..255 (RFC 8949 §3.3). */
export class CborSimple {
  constructor(readonly value: number) {}
}

/** A departure from core deterministic encoding found while decoding (not an error by itself). */
interface CborViolation {
  readonly kind: 'non-shortest-head' | 'unsorted-map-keys' | 'non-shortest-float' | 'non-canonical-nan' | 'bignum';
  /** Byte offset of the offending data item (or map key). */
  readonly offset: number;
  /** Human text naming the rule, e.g. "RFC 8949 §4.2.1: ...". */
  readonly message: string;
}

export interface CborDecodeOptions {
  /** Maximum nesting of arrays, maps and tags (the outermost container is depth 1). Default 32. */
  readonly maxDepth?: number;
}

export interface CborDecodeResult {
  readonly value: CborValue;
  /** True when the input is in RFC 8949 §4.2.1 core deterministic encoding (no violations). */
  readonly deterministic: boolean;
  readonly violations: readonly CborViolation[];
}

export const DEFAULT_CBOR_MAX_DEPTH = 32;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_64 = 1n << 64n;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function fail(rule: string, text: string, offset: number): never {
  throw new CodecError(`CBOR ${rule}: ${text} at offset ${offset}`);
}

/**
 * Decode exactly one CBOR data item from `bytes`.
 * @throws CodecError when the input is not well-formed or breaks one of the safety rules above; the message
 *   names the rule and the byte offset.
 */
export function decodeCbor(bytes: Uint8Array, opts: CborDecodeOptions = {}): CborDecodeResult {
  const decoder = new Decoder(bytes, opts.maxDepth ?? DEFAULT_CBOR_MAX_DEPTH);
  if (bytes.length === 0) fail('RFC 8949 §3', 'truncated input: empty', 0);
  const value = decoder.item(1);
  if (decoder.pos !== bytes.length) {
    fail('RFC 8949 §5.1', `${bytes.length - decoder.pos} trailing byte(s) after the data item`, decoder.pos);
  }
  return { value, deterministic: decoder.violations.length === 0, violations: decoder.violations };
}

/**
 * Decode and insist on core deterministic encoding (RFC 8949 §4.2.1).
 * @throws CodecError on malformed input or on the first deterministic-encoding violation.
 */
export function decodeCborDeterministic(bytes: Uint8Array, opts: CborDecodeOptions = {}): CborValue {
  const result = decodeCbor(bytes, opts);
  const first = result.violations[0];
  if (first) throw new CodecError(first.message);
  return result.value;
}

class Decoder {
  pos = 0;
  readonly violations: CborViolation[] = [];
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxDepth: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private remaining(): number {
    return this.bytes.length - this.pos;
  }

  private need(n: number, itemOffset: number): void {
    if (this.remaining() < n) {
      fail('RFC 8949 §3', `truncated input: need ${n} more byte(s), ${this.remaining()} remain`, itemOffset);
    }
  }

  private violation(kind: CborViolation['kind'], text: string, offset: number): void {
    this.violations.push({ kind, offset, message: `CBOR RFC 8949 §4.2.1: ${text} at offset ${offset}` });
  }

  /** Read the argument of a head whose initial byte was already consumed (major types 0..6). */
  private argument(major: number, ai: number, start: number): number | bigint {
    let arg: number | bigint;
    let min: number;
    if (ai < 24) return ai;
    switch (ai) {
      case 24:
        this.need(1, start);
        arg = this.bytes[this.pos]!;
        this.pos += 1;
        min = 24;
        break;
      case 25:
        this.need(2, start);
        arg = this.view.getUint16(this.pos);
        this.pos += 2;
        min = 0x100;
        break;
      case 26:
        this.need(4, start);
        arg = this.view.getUint32(this.pos);
        this.pos += 4;
        min = 0x10000;
        break;
      case 27: {
        this.need(8, start);
        const big = this.view.getBigUint64(this.pos);
        this.pos += 8;
        arg = big <= MAX_SAFE ? Number(big) : big;
        min = 0x1_0000_0000;
        break;
      }
      case 28:
      case 29:
      case 30:
        return fail('RFC 8949 §3', `reserved additional information value ${ai} (major type ${major})`, start);
      default:
        if (major >= 2 && major <= 5) {
          return fail(
            'RFC 8949 §4.2.1 / MIMI content §6.1',
            `indefinite-length ${MAJOR_NAMES[major]} is not allowed`,
            start,
          );
        }
        return fail('RFC 8949 §3', `additional information 31 is not well-formed for major type ${major}`, start);
    }
    if (arg < min) this.violation('non-shortest-head', `head of major type ${major} not in shortest form`, start);
    return arg;
  }

  /** A length or count: must fit in what is left of the input, so nothing is allocated from a bogus length. */
  private length(arg: number | bigint, bytesPerUnit: number, what: string, start: number): number {
    const left = this.remaining();
    if (typeof arg === 'bigint' || arg * bytesPerUnit > left) {
      fail('RFC 8949 §3', `${what} of declared length ${arg} cannot fit in the ${left} byte(s) remaining`, start);
    }
    return arg;
  }

  item(depth: number): CborValue {
    const start = this.pos;
    this.need(1, start);
    const initial = this.bytes[this.pos]!;
    this.pos += 1;
    const major = initial >> 5;
    const ai = initial & 0x1f;
    if (major === 7) return this.simpleOrFloat(ai, start);
    const arg = this.argument(major, ai, start);
    switch (major) {
      case 0:
        return arg;
      case 1:
        // -1 - (2^53 - 1) is no longer a safe integer: from there on the value is a bigint.
        if (typeof arg === 'number' && arg < Number.MAX_SAFE_INTEGER) return -1 - arg;
        return -1n - BigInt(arg);
      case 2: {
        const n = this.length(arg, 1, 'byte string', start);
        const out = this.bytes.slice(this.pos, this.pos + n);
        this.pos += n;
        return out;
      }
      case 3: {
        const n = this.length(arg, 1, 'text string', start);
        let text: string;
        try {
          text = UTF8.decode(this.bytes.subarray(this.pos, this.pos + n));
        } catch {
          return fail('RFC 8949 §3.1 / MIMI content §6.2', 'text string is not valid UTF-8', start);
        }
        this.pos += n;
        return text;
      }
      case 4: {
        this.enter(depth, start);
        const n = this.length(arg, 1, 'array', start);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5:
        this.enter(depth, start);
        return this.map(this.length(arg, 2, 'map', start), depth);
      default:
        this.enter(depth, start);
        return this.tag(arg, depth, start);
    }
  }

  private enter(depth: number, start: number): void {
    if (depth > this.maxDepth) fail('nesting limit', `containers nested deeper than ${this.maxDepth}`, start);
  }

  private map(n: number, depth: number): CborMap {
    const entries: [CborValue, CborValue][] = [];
    const seen = new Set<string>();
    let previous: Uint8Array | undefined;
    for (let i = 0; i < n; i++) {
      const keyOffset = this.pos;
      const key = this.item(depth + 1);
      // Compare keys by their canonical encoding: 1 written as 0x01 and as 0x1801 is the same key.
      const encoded = encodeCbor(key);
      const hex = toHex(encoded);
      if (seen.has(hex)) fail('RFC 8949 §5.6', 'duplicate map key', keyOffset);
      seen.add(hex);
      if (previous && compareBytes(previous, encoded) > 0) {
        this.violation('unsorted-map-keys', 'map keys not sorted bytewise by their encoded form', keyOffset);
      }
      previous = encoded;
      entries.push([key, this.item(depth + 1)]);
    }
    return new CborMap(entries);
  }

  private tag(tag: number | bigint, depth: number, start: number): CborTag {
    const value = this.item(depth + 1);
    if (tag === 2 || tag === 3) {
      // RFC 8949 §3.4.3: bignum content is a byte string; preferred serialization has no leading zero
      // bytes and uses major type 0/1 whenever the value fits in 64 bits (MIMI content §6.1, 2nd bullet).
      if (!(value instanceof Uint8Array)) fail('RFC 8949 §3.4.3', `tag ${tag} content must be a byte string`, start);
      if (value.length <= 8) this.violation('bignum', 'bignum that fits in a 64-bit integer', start);
      else if (value[0] === 0) this.violation('bignum', 'bignum with leading zero bytes', start);
    }
    return new CborTag(tag, value);
  }

  private simpleOrFloat(ai: number, start: number): CborValue {
    if (ai < 20) return new CborSimple(ai);
    switch (ai) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 24: {
        this.need(1, start);
        const v = this.bytes[this.pos]!;
        this.pos += 1;
        if (v < 32) fail('RFC 8949 §3.3', `two-byte simple value ${v} (< 32) is not well-formed`, start);
        return new CborSimple(v);
      }
      case 25: {
        this.need(2, start);
        const bits = this.view.getUint16(this.pos);
        this.pos += 2;
        const value = halfToNumber(bits);
        if (Number.isNaN(value) && bits !== 0x7e00) {
          this.nanViolation(start);
        }
        return new CborFloat(value);
      }
      case 26: {
        this.need(4, start);
        const value = this.view.getFloat32(this.pos);
        this.pos += 4;
        this.checkFloat(value, 5, start);
        return new CborFloat(value);
      }
      case 27: {
        this.need(8, start);
        const value = this.view.getFloat64(this.pos);
        this.pos += 8;
        this.checkFloat(value, 9, start);
        return new CborFloat(value);
      }
      case 28:
      case 29:
      case 30:
        return fail('RFC 8949 §3', `reserved additional information value ${ai} (major type 7)`, start);
      default:
        return fail('RFC 8949 §3.2.1', 'break stop code outside an indefinite-length item', start);
    }
  }

  private checkFloat(value: number, width: number, start: number): void {
    if (Number.isNaN(value)) this.nanViolation(start);
    else if (floatEncodedLength(value) < width) {
      this.violation('non-shortest-float', `float not in its shortest exact width`, start);
    }
  }

  private nanViolation(start: number): void {
    this.violations.push({
      kind: 'non-canonical-nan',
      offset: start,
      message: `CBOR RFC 8949 §4.2.2 / MIMI content §6.2: NaN must be encoded as 0xf97e00 at offset ${start}`,
    });
  }
}

const MAJOR_NAMES = ['unsigned integer', 'negative integer', 'byte string', 'text string', 'array', 'map', 'tag'];

// ---------------------------------------------------------------------------------------------------------
// Floats

function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The IEEE half-precision bits of `v` if `v` is exactly representable as a half, else undefined. */
function halfBitsIfExact(v: number): number | undefined {
  if (Number.isNaN(v)) return 0x7e00;
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  if (!Number.isFinite(v)) return v > 0 ? 0x7c00 : 0xfc00;
  const sign = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a > 65504) return undefined;
  if (a >= 2 ** -14) {
    let e = Math.floor(Math.log2(a));
    if (2 ** e > a) e -= 1;
    if (2 ** (e + 1) <= a) e += 1;
    const mant = (a / 2 ** e - 1) * 1024;
    return Number.isInteger(mant) ? sign | ((e + 15) << 10) | mant : undefined;
  }
  const mant = a / 2 ** -24;
  return Number.isInteger(mant) ? sign | mant : undefined;
}

/** Bytes (head included) of the shortest exact encoding of a float: 3, 5 or 9. */
function floatEncodedLength(v: number): 3 | 5 | 9 {
  if (halfBitsIfExact(v) !== undefined) return 3;
  return Math.fround(v) === v ? 5 : 9;
}

// ---------------------------------------------------------------------------------------------------------
// Encoder

/** Encoder nesting guard: protects against cyclic structures, far above anything MIMI content allows. */
const ENCODE_MAX_DEPTH = 256;

class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  head(major: number, arg: number | bigint): void {
    const m = major << 5;
    if (typeof arg === 'bigint' && arg < 0x1_0000_0000n) arg = Number(arg);
    if (typeof arg === 'number') {
      if (arg < 24) return this.u8(m | arg);
      if (arg < 0x100) {
        this.u8(m | 24);
        return this.u8(arg);
      }
      if (arg < 0x10000) {
        this.reserve(3);
        this.buf[this.len] = m | 25;
        this.view.setUint16(this.len + 1, arg);
        this.len += 3;
        return;
      }
      if (arg < 0x1_0000_0000) {
        this.reserve(5);
        this.buf[this.len] = m | 26;
        this.view.setUint32(this.len + 1, arg);
        this.len += 5;
        return;
      }
      arg = BigInt(arg);
    }
    this.reserve(9);
    this.buf[this.len] = m | 27;
    this.view.setBigUint64(this.len + 1, arg);
    this.len += 9;
  }

  float(v: number): void {
    const half = halfBitsIfExact(v);
    if (half !== undefined) {
      this.reserve(3);
      this.buf[this.len] = 0xf9;
      this.view.setUint16(this.len + 1, half);
      this.len += 3;
    } else if (Math.fround(v) === v) {
      this.reserve(5);
      this.buf[this.len] = 0xfa;
      this.view.setFloat32(this.len + 1, v);
      this.len += 5;
    } else {
      this.reserve(9);
      this.buf[this.len] = 0xfb;
      this.view.setFloat64(this.len + 1, v);
      this.len += 9;
    }
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function encodeError(text: string): never {
  throw new CodecError(`CBOR encode: ${text}`);
}

function write(w: Writer, v: CborValue, depth: number): void {
  if (depth > ENCODE_MAX_DEPTH) encodeError(`nesting deeper than ${ENCODE_MAX_DEPTH} (cyclic value?)`);
  if (v === null) return w.u8(0xf6);
  if (v === undefined) return w.u8(0xf7);
  if (v === false) return w.u8(0xf4);
  if (v === true) return w.u8(0xf5);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) {
      encodeError(`${v} is not a safe integer (wrap floats in CborFloat, use bigint beyond ±(2^53-1))`);
    }
    return v >= 0 ? w.head(0, v) : w.head(1, -1 - v);
  }
  if (typeof v === 'bigint') {
    if (v >= 0n && v < TWO_64) return w.head(0, v);
    if (v < 0n && -1n - v < TWO_64) return w.head(1, -1n - v);
    return encodeError(`integer ${v} outside the 64-bit range of major types 0/1 (use a tag 2/3 bignum)`);
  }
  if (typeof v === 'string') {
    if (LONE_SURROGATE.test(v)) encodeError('text string contains a lone surrogate (not valid UTF-8)');
    const b = UTF8_ENCODER.encode(v);
    w.head(3, b.length);
    return w.bytes(b);
  }
  if (v instanceof Uint8Array) {
    w.head(2, v.length);
    return w.bytes(v);
  }
  if (Array.isArray(v)) {
    const items = v as readonly CborValue[];
    w.head(4, items.length);
    for (const item of items) write(w, item, depth + 1);
    return;
  }
  if (v instanceof CborMap) return writeMap(w, v, depth);
  if (v instanceof CborTag) {
    if (typeof v.tag === 'number' ? !Number.isSafeInteger(v.tag) || v.tag < 0 : v.tag < 0n || v.tag >= TWO_64) {
      encodeError(`invalid tag number ${v.tag}`);
    }
    w.head(6, v.tag);
    return write(w, v.value, depth + 1);
  }
  if (v instanceof CborFloat) return w.float(v.value);
  if (v instanceof CborSimple) {
    if (Number.isInteger(v.value) && v.value >= 0 && v.value < 20) return w.u8(0xe0 | v.value);
    if (Number.isInteger(v.value) && v.value >= 32 && v.value <= 255) {
      w.u8(0xf8);
      return w.u8(v.value);
    }
    return encodeError(`simple value ${v.value} is reserved or has a dedicated encoding`);
  }
  return encodeError(`unsupported value of type ${typeof v}`);
}

function writeMap(w: Writer, m: CborMap, depth: number): void {
  const encoded = m.entries.map(([k, val]) => {
    const kw = new Writer();
    write(kw, k, depth + 1);
    const vw = new Writer();
    write(vw, val, depth + 1);
    return { key: kw.result(), value: vw.result() };
  });
  // RFC 8949 §4.2.1: sort by the bytewise lexicographic order of the deterministic encodings of the keys.
  encoded.sort((a, b) => compareBytes(a.key, b.key));
  for (let i = 1; i < encoded.length; i++) {
    if (compareBytes(encoded[i - 1]!.key, encoded[i]!.key) === 0) {
      encodeError(`duplicate map key ${toHex(encoded[i]!.key)} (RFC 8949 §5.6)`);
    }
  }
  w.head(5, encoded.length);
  for (const e of encoded) {
    w.bytes(e.key);
    w.bytes(e.value);
  }
}

/**
 * Encode a value in RFC 8949 §4.2.1 core deterministic encoding.
 * @throws CodecError for values CBOR cannot carry as given: non-integer or unsafe `number`s (use `CborFloat` /
 *   `bigint`), integers beyond 64 bits, strings with lone surrogates, duplicate map keys, reserved simple values.
 */
export function encodeCbor(value: CborValue): Uint8Array {
  const w = new Writer();
  write(w, value, 0);
  return w.result();
}
