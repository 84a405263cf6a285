/**
 * The MIMI content container (draft-ietf-mimi-content-08): typed model, strict decoder, deterministic encoder
 * and message-ID derivation. Section numbers (§) refer to -08 unless stated otherwise.
 */
import { createHash } from 'node:crypto';
import { CodecError, ValidationError } from '../../common/errors';
import { CborMap, CborTag, CborValue, decodeCbor, encodeCbor } from './cbor';

export const SALT_LENGTH = 16;
export const MESSAGE_ID_LENGTH = 32;
/** §6.3: NestedParts MUST NOT be nested more than 4 levels deep (the root part is level 1). */
const MAX_NESTED_PART_DEPTH = 4;
/** §6.3: extensions MUST NOT contain tags/maps/arrays at more than 4 levels (the extensions map is level 1). */
const MAX_EXTENSION_DEPTH = 4;
/** §4.3 / §6.2: text extension keys are 1..255 octets of UTF-8. */
const MAX_TEXT_EXTENSION_KEY_OCTETS = 255;
/** §3.3: hash algorithm octet of the message ID (IANA Named Information Hash Algorithm registry): sha-256. */
export const MESSAGE_ID_HASH_SHA256 = 0x01;

/**
 * Nesting limit handed to the CBOR decoder for a whole message. A maximally nested legal message has
 * 1 (mimiContent) + 2 per NestedPart level = 9 containers; legal extensions reach 2 + 3 = 5. The margin above
 * that lets §6.3 report slightly-too-deep input with its own rule; anything deeper is cut off by the decoder.
 */
const CONTENT_CBOR_MAX_DEPTH = 16;

export type MessageId = Uint8Array;

/** §4.4 cardinality. */
export enum Cardinality {
  NullPart = 0,
  Single = 1,
  External = 2,
  Multi = 3,
}

/** §4.4 part semantics {9}. */
export enum PartSemantics {
  ChooseOne = 0,
  SingleUnit = 1,
  ProcessAll = 2,
}

/**
 * §4.4 / §8.2.2 dispositions. A part's `disposition` is a plain number because 9..255 are legal
 * ("unknownDispos"); §9.1 says to treat an unknown value as render (see `effectiveDisposition`).
 * Every value of the spec's table is listed, including those the gateway does not use itself.
 * @public
 */
export enum Disposition {
  Unspecified = 0,
  Render = 1,
  Reaction = 2,
  Profile = 3,
  Inline = 4,
  Icon = 5,
  Attachment = 6,
  Session = 7,
  Preview = 8,
}

/** §4.1 Expiration: `time` is seconds since the UNIX epoch (absolute) or seconds after reading (relative). */
export interface Expiration {
  readonly relative: boolean;
  /** uint .size 4 */
  readonly time: number;
}

interface PartHeader {
  /** 0..255; see `Disposition`. */
  readonly disposition: number;
  /** "" or a comma-separated list of RFC 5646 language tags. */
  readonly language: string;
}

interface NullPart extends PartHeader {
  readonly cardinality: Cardinality.NullPart;
}

export interface SinglePart extends PartHeader {
  readonly cardinality: Cardinality.Single;
  readonly contentType: string;
  readonly content: Uint8Array;
}

/** §4.5 ExternalPart. */
export interface ExternalPart extends PartHeader {
  readonly cardinality: Cardinality.External;
  readonly contentType: string;
  readonly url: string;
  /** uint .size 4: seconds since the UNIX epoch, 0 = does not expire. */
  readonly expires: number;
  /** uint .size 8: octets, 0 = unknown. */
  readonly size: bigint;
  /** uint .size 2: IANA AEAD algorithm, 0 = not encrypted (1 = AES-128-GCM). */
  readonly encAlg: number;
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
  readonly aad: Uint8Array;
  /** uint .size 1: IANA Named Information hash algorithm, 0 = none (1 = sha-256). */
  readonly hashAlg: number;
  readonly contentHash: Uint8Array;
  readonly description: string;
  readonly filename: string;
}

export interface MultiPart extends PartHeader {
  readonly cardinality: Cardinality.Multi;
  readonly partSemantics: PartSemantics;
  /** At least 2 parts. */
  readonly parts: readonly NestedPart[];
}

export type NestedPart = NullPart | SinglePart | ExternalPart | MultiPart;

/** §4.3 extension map key: an integer within ±(2^53−1) (§6.2) or a 1..255-octet text string. */
export type ExtensionKey = number | string;
export type MimiExtensions = ReadonlyMap<ExtensionKey, CborValue>;

/** §4.1 mimiContent: the 7-element top-level array. */
export interface MimiContent {
  readonly salt: Uint8Array;
  readonly replaces: MessageId | null;
  readonly topicId: Uint8Array;
  readonly expires: Expiration | null;
  readonly inReplyTo: MessageId | null;
  readonly extensions: MimiExtensions;
  readonly nestedPart: NestedPart;
}

// ---------------------------------------------------------------------------------------------------------
// CborValue -> model (shared by the decoder and, on the model's own CBOR form, by the encoder)

type Fail = (message: string) => never;

const codecFail: Fail = (message) => {
  throw new CodecError(message);
};
const validationFail: Fail = (message) => {
  throw new ValidationError(message);
};

const UINT32_MAX = 0xffff_ffff;
const UINT64_MAX = (1n << 64n) - 1n;

function isUintUpTo(v: CborValue, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

function expectArray(v: CborValue, path: string, rule: string, fail: Fail): readonly CborValue[] {
  if (!Array.isArray(v)) fail(`${rule}: ${path} must be an array`);
  return v as readonly CborValue[];
}

function expectBytes(v: CborValue, path: string, rule: string, fail: Fail): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${rule}: ${path} must be a byte string`);
  return v as Uint8Array;
}

function expectText(v: CborValue, path: string, rule: string, fail: Fail): string {
  if (typeof v !== 'string') fail(`${rule}: ${path} must be a text string`);
  return v as string;
}

function expectUint(v: CborValue, max: number, path: string, rule: string, fail: Fail): number {
  if (!isUintUpTo(v, max)) fail(`${rule}: ${path} must be an unsigned integer <= ${max}`);
  return v as number;
}

function messageIdOrNull(v: CborValue, path: string, fail: Fail): MessageId | null {
  if (v === null) return null;
  if (!(v instanceof Uint8Array) || v.length !== MESSAGE_ID_LENGTH) {
    fail(`§4.1: ${path} must be null or a ${MESSAGE_ID_LENGTH}-byte MessageId`);
  }
  return v as Uint8Array;
}

function contentFromCbor(v: CborValue, fail: Fail): MimiContent {
  if (!Array.isArray(v) || v.length !== 7) {
    fail(`§4.1: mimiContent must be an array of 7 elements${Array.isArray(v) ? `, got ${v.length}` : ''}`);
  }
  const [salt, replaces, topicId, expires, inReplyTo, extensions, nestedPart] = v as readonly CborValue[];
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_LENGTH) {
    fail(`§4.1: salt must be a ${SALT_LENGTH}-byte byte string`);
  }
  return {
    salt: salt as Uint8Array,
    replaces: messageIdOrNull(replaces, 'replaces', fail),
    topicId: expectBytes(topicId, 'topicId', '§4.1', fail),
    expires: expirationFromCbor(expires, fail),
    inReplyTo: messageIdOrNull(inReplyTo, 'inReplyTo', fail),
    extensions: extensionsFromCbor(extensions, fail),
    nestedPart: partFromCbor(nestedPart, 'nestedPart', 1, fail),
  };
}

function expirationFromCbor(v: CborValue, fail: Fail): Expiration | null {
  if (v === null) return null;
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'boolean' || !isUintUpTo(v[1], UINT32_MAX)) {
    return fail('§4.1: expires must be null or [relative: bool, time: uint .size 4]');
  }
  return { relative: v[0] as boolean, time: v[1] as number };
}

function extensionsFromCbor(v: CborValue, fail: Fail): MimiExtensions {
  if (!(v instanceof CborMap)) return fail('§4.3: mimiExtensions must be a map');
  const out = new Map<ExtensionKey, CborValue>();
  for (const [key, value] of v.entries) {
    if (typeof key === 'string') {
      const octets = Buffer.byteLength(key, 'utf8');
      if (octets < 1 || octets > MAX_TEXT_EXTENSION_KEY_OCTETS) {
        fail(`§6.2: text extension key must be 1..${MAX_TEXT_EXTENSION_KEY_OCTETS} octets, got ${octets}`);
      }
    } else if (typeof key === 'bigint') {
      fail(`§6.2: integer extension key ${key} is outside ±(2^53-1)`);
    } else if (typeof key !== 'number' || !Number.isSafeInteger(key)) {
      fail('§6.2: extension keys must be integers or text strings');
    }
    if (out.has(key as ExtensionKey)) fail(`§4.3: more than one extension with key ${String(key)}`);
    if ((key === 1 || key === 2) && typeof value !== 'string') {
      fail(`§4.3: extension ${key === 1 ? 'senderUri (1)' : 'roomUri (2)'} must be a text string`);
    }
    checkExtensionValue(value, 2, `extension ${JSON.stringify(key)}`, fail);
    out.set(key as ExtensionKey, value);
  }
  return out;
}

/**
 * §6.2/§6.3 on an extension value found at container `level` (the extensions map itself is level 1):
 * containers (arrays, maps, tags) deeper than level 4 are rejected; nested map keys must be integers within
 * ±(2^53−1), text or byte strings; the only NaN allowed is 0xf97e00 (the encoder always writes that form, and
 * the decoder reports any other NaN as a violation).
 */
function checkExtensionValue(v: CborValue, level: number, path: string, fail: Fail): void {
  const isContainer = Array.isArray(v) || v instanceof CborMap || v instanceof CborTag;
  if (!isContainer) {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) fail(`§6.2: ${path} is not an integer (use CborFloat)`);
    return;
  }
  if (level > MAX_EXTENSION_DEPTH) {
    fail(`§6.3: ${path} nests tags/maps/arrays more than ${MAX_EXTENSION_DEPTH} levels deep`);
  }
  if (Array.isArray(v)) {
    (v as readonly CborValue[]).forEach((item, i) => checkExtensionValue(item, level + 1, `${path}[${i}]`, fail));
  } else if (v instanceof CborMap) {
    for (const [k, val] of v.entries) {
      const keyOk =
        typeof k === 'string' || k instanceof Uint8Array || (typeof k === 'number' && Number.isSafeInteger(k));
      if (!keyOk) {
        fail(`§6.2: map keys inside ${path} must be integers within ±(2^53-1), text or byte strings`);
      }
      checkExtensionValue(val, level + 1, `${path}{${typeof k === 'string' ? JSON.stringify(k) : String(k)}}`, fail);
    }
  } else if (v instanceof CborTag) {
    checkExtensionValue(v.value, level + 1, `${path}#${v.tag}`, fail);
  }
}

const PART_LENGTHS: Record<Cardinality, number> = {
  [Cardinality.NullPart]: 3,
  [Cardinality.Single]: 5,
  [Cardinality.External]: 15,
  [Cardinality.Multi]: 5,
};

function partFromCbor(v: CborValue, path: string, depth: number, fail: Fail): NestedPart {
  if (depth > MAX_NESTED_PART_DEPTH) {
    fail(`§6.3/§9.1: NestedPart nested more than ${MAX_NESTED_PART_DEPTH} levels deep (at ${path})`);
  }
  const a = expectArray(v, path, '§4.4', fail);
  if (a.length < 3) fail(`§4.4: ${path} must have at least disposition, language and cardinality`);
  const disposition = expectUint(a[0], 255, `${path}.disposition`, '§4.4', fail);
  const language = expectText(a[1], `${path}.language`, '§4.4', fail);
  const cardinality = a[2];
  if (!isUintUpTo(cardinality, Cardinality.Multi)) {
    return fail(`§4.4: ${path}.cardinality must be 0 (nullpart), 1 (single), 2 (external) or 3 (multi)`);
  }
  const expected = PART_LENGTHS[cardinality as Cardinality];
  if (a.length !== expected) {
    fail(`§4.4: ${path} with cardinality ${cardinality} must have ${expected} elements, got ${a.length}`);
  }
  const header = { disposition, language };
  switch (cardinality as Cardinality) {
    case Cardinality.NullPart:
      return { ...header, cardinality: Cardinality.NullPart };
    case Cardinality.Single:
      return {
        ...header,
        cardinality: Cardinality.Single,
        contentType: expectText(a[3], `${path}.contentType`, '§4.4', fail),
        content: expectBytes(a[4], `${path}.content`, '§4.4', fail),
      };
    case Cardinality.External: {
      const size = a[6];
      const sizeOk =
        isUintUpTo(size, Number.MAX_SAFE_INTEGER) || (typeof size === 'bigint' && size >= 0n && size <= UINT64_MAX);
      if (!sizeOk) fail(`§4.5: ${path}.size must be an unsigned integer .size 8`);
      return {
        ...header,
        cardinality: Cardinality.External,
        contentType: expectText(a[3], `${path}.contentType`, '§4.5', fail),
        url: expectText(a[4], `${path}.url`, '§4.5', fail),
        expires: expectUint(a[5], UINT32_MAX, `${path}.expires`, '§4.5', fail),
        size: BigInt(size as number | bigint),
        encAlg: expectUint(a[7], 0xffff, `${path}.encAlg`, '§4.5', fail),
        key: expectBytes(a[8], `${path}.key`, '§4.5', fail),
        nonce: expectBytes(a[9], `${path}.nonce`, '§4.5', fail),
        aad: expectBytes(a[10], `${path}.aad`, '§4.5', fail),
        hashAlg: expectUint(a[11], 0xff, `${path}.hashAlg`, '§4.5', fail),
        contentHash: expectBytes(a[12], `${path}.contentHash`, '§4.5', fail),
        description: expectText(a[13], `${path}.description`, '§4.5', fail),
        filename: expectText(a[14], `${path}.filename`, '§4.5', fail),
      };
    }
    case Cardinality.Multi: {
      const semantics = a[3];
      if (!isUintUpTo(semantics, PartSemantics.ProcessAll)) {
        return fail(`§9.1: ${path} has an unknown partSemantics value ${String(semantics)}`);
      }
      const parts = expectArray(a[4], `${path}.parts`, '§4.4', fail);
      if (parts.length < 2) fail(`§4.4: ${path}.parts must contain at least 2 NestedParts, got ${parts.length}`);
      return {
        ...header,
        cardinality: Cardinality.Multi,
        partSemantics: semantics as PartSemantics,
        parts: parts.map((p, i) => partFromCbor(p, `${path}.parts[${i}]`, depth + 1, fail)),
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// model -> CborValue

function partToCbor(p: NestedPart): CborValue {
  const head: CborValue[] = [p.disposition, p.language, p.cardinality];
  switch (p.cardinality) {
    case Cardinality.NullPart:
      return head;
    case Cardinality.Single:
      return [...head, p.contentType, p.content];
    case Cardinality.External:
      return [
        ...head,
        p.contentType,
        p.url,
        p.expires,
        p.size <= BigInt(Number.MAX_SAFE_INTEGER) && p.size >= 0n ? Number(p.size) : p.size,
        p.encAlg,
        p.key,
        p.nonce,
        p.aad,
        p.hashAlg,
        p.contentHash,
        p.description,
        p.filename,
      ];
    case Cardinality.Multi:
      return [...head, p.partSemantics, p.parts.map(partToCbor)];
  }
}

/** The model as a generic CBOR value (the exact array the encoder writes). */
function mimiContentToCbor(msg: MimiContent): CborValue {
  return [
    msg.salt,
    msg.replaces,
    msg.topicId,
    msg.expires === null ? null : [msg.expires.relative, msg.expires.time],
    msg.inReplyTo,
    new CborMap(msg.extensions.entries()),
    partToCbor(msg.nestedPart),
  ];
}

/**
 * Check a model against the CDDL (§4, Appendix A.1) and the data-model/depth rules (§6.2, §6.3).
 * @throws ValidationError naming the rule.
 */
export function assertWellFormedMimiContent(msg: MimiContent): void {
  contentFromCbor(mimiContentToCbor(msg), validationFail);
}

// ---------------------------------------------------------------------------------------------------------
// Public codec

export interface DecodeMimiContentOptions {
  /**
   * Accept input that is well-formed but not in deterministic encoding (§6.1 is a sender MUST). Default false:
   * such input is rejected. The message ID is always computed over the bytes as received.
   */
  readonly allowNonDeterministic?: boolean;
}

/**
 * Decode `application/mimi-content` bytes.
 * @throws CodecError when the bytes are not well-formed CBOR, break §6 (deterministic encoding, data model,
 *   depth) or do not match the CDDL (§4, Appendix A.1). The message names the rule.
 */
export function decodeMimiContent(bytes: Uint8Array, opts: DecodeMimiContentOptions = {}): MimiContent {
  const result = decodeCbor(bytes, { maxDepth: CONTENT_CBOR_MAX_DEPTH });
  for (const v of result.violations) {
    if (v.kind === 'non-canonical-nan') throw new CodecError(`§6.2: ${v.message}`);
    if (!opts.allowNonDeterministic) throw new CodecError(`§6.1: not deterministically encoded: ${v.message}`);
  }
  return contentFromCbor(result.value, codecFail);
}

/**
 * Encode a message in deterministic CBOR (§6.1).
 * @throws ValidationError when the model breaks the CDDL or §6.2/§6.3.
 */
export function encodeMimiContent(msg: MimiContent): Uint8Array {
  const value = mimiContentToCbor(msg);
  contentFromCbor(value, validationFail);
  return encodeCbor(value);
}

// ---------------------------------------------------------------------------------------------------------
// Message ID (§3.3)

/** Which draft's message-ID rule to apply. -07 had no length prefixes; peers on -07 code still use it. */
export enum MessageIdRule {
  Draft08 = 'draft-08',
  Draft07 = 'draft-07',
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function uriBytes(uri: string, what: string): Buffer {
  if (LONE_SURROGATE.test(uri)) throw new ValidationError(`§3.3: ${what} is not valid UTF-8`);
  const b = Buffer.from(uri, 'utf8');
  if (b.length > 0xffff) throw new ValidationError(`§3.3: ${what} is longer than 65535 octets`);
  return b;
}

function lengthPrefix(b: Buffer): Buffer {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(b.length);
  return p;
}

/**
 * §3.3 message ID: `0x01 || SHA-256(senderUriLength || senderUri || roomUriLength || roomUri || message ||
 * salt)[0..30]`, lengths as big-endian uint16 (new in -08). The hash covers the exact bytes given: pass the
 * bytes as received, never a re-encoding.
 * @param contentBytes the whole encoded MIMI content (its salt is read from it).
 * @throws CodecError when the bytes are not a CBOR array starting with a 16-byte salt.
 */
export function messageId(
  contentBytes: Uint8Array,
  senderUri: string,
  roomUri: string,
  opts: { rule?: MessageIdRule } = {},
): MessageId {
  const { value } = decodeCbor(contentBytes, { maxDepth: CONTENT_CBOR_MAX_DEPTH });
  const salt = Array.isArray(value) ? (value as readonly CborValue[])[0] : undefined;
  if (!(salt instanceof Uint8Array) || salt.length !== SALT_LENGTH) {
    throw new CodecError('§3.3: cannot derive a message ID: content is not an array starting with a 16-byte salt');
  }
  const sender = uriBytes(senderUri, 'sender URI');
  const room = uriBytes(roomUri, 'room URI');
  const hash = createHash('sha256');
  if ((opts.rule ?? MessageIdRule.Draft08) === MessageIdRule.Draft08) {
    hash.update(lengthPrefix(sender)).update(sender).update(lengthPrefix(room)).update(room);
  } else {
    hash.update(sender).update(room);
  }
  const digest = hash.update(contentBytes).update(salt).digest();
  const id = new Uint8Array(MESSAGE_ID_LENGTH);
  id[0] = MESSAGE_ID_HASH_SHA256;
  id.set(digest.subarray(0, MESSAGE_ID_LENGTH - 1), 1);
  return id;
}

/** Encode a message and derive its ID in one step (what a sender needs). */
export function encodeMimiContentWithId(
  msg: MimiContent,
  senderUri: string,
  roomUri: string,
): { bytes: Uint8Array; messageId: MessageId } {
  const bytes = encodeMimiContent(msg);
  return { bytes, messageId: messageId(bytes, senderUri, roomUri) };
}

// ---------------------------------------------------------------------------------------------------------
// Part tree helpers (§4.4)

export interface IndexedPart {
  /** §4.4 implied part index: zero-based, depth-first; the root is 0. */
  readonly partIndex: number;
  /** Nesting level; the root is 1. */
  readonly depth: number;
  readonly part: NestedPart;
}

/** All parts in implied part-index order (depth-first, pre-order). */
export function listParts(root: NestedPart): IndexedPart[] {
  const out: IndexedPart[] = [];
  const visit = (part: NestedPart, depth: number): void => {
    out.push({ partIndex: out.length, depth, part });
    if (part.cardinality === Cardinality.Multi) for (const child of part.parts) visit(child, depth + 1);
  };
  visit(root, 1);
  return out;
}

/**
 * Resolve a `cid:<partIndex>@local.invalid` URI (§4.4). Only SinglePart and ExternalPart may be referenced;
 * anything else (or an out-of-range index) yields undefined.
 */
export function resolveCidUri(root: NestedPart, uri: string): SinglePart | ExternalPart | undefined {
  const m = /^cid:(0|[1-9][0-9]{0,5})@local\.invalid$/i.exec(uri);
  if (!m) return undefined;
  const part = listParts(root)[Number(m[1])]?.part;
  return part && (part.cardinality === Cardinality.Single || part.cardinality === Cardinality.External)
    ? part
    : undefined;
}

/** §4.4 / §9.1: an unknown disposition (9..255) is treated as render. */
export function effectiveDisposition(disposition: number): Disposition {
  return Number.isInteger(disposition) && disposition >= Disposition.Unspecified && disposition <= Disposition.Preview
    ? (disposition as Disposition)
    : Disposition.Render;
}

/** Registry name of a disposition (§8.2.2), or `unknown(N)`. */
export function dispositionName(disposition: number): string {
  const name = Number.isInteger(disposition) ? Disposition[disposition] : undefined;
  return name === undefined ? `unknown(${disposition})` : name.charAt(0).toLowerCase() + name.slice(1);
}
