/**
 * The structures every application message is made of, written and read without the generic
 * TLS codec: FramedContentTBS's head, PrivateMessageContent, PrivateContentAAD / SenderDataAAD,
 * SenderData and the MLSMessage around a PrivateMessage (RFC 9420 §6.1, §6.3). Each is a fixed
 * layout of a few fields, written straight into an array of its exact size; per message the
 * generic codec's field paths and growable buffers cost more than the rest of the framing.
 *
 * The bytes are those of the codecs in `structs/` (`framing-bytes.spec.ts` compares them). A
 * value these writers do not cover returns undefined, and so does a reader given anything it
 * does not accept: the caller then uses the codec, which encodes the rare case or names the
 * error exactly as before.
 */
import { putOpaque, putUint32, varintSize } from './put-bytes';
// From the struct modules themselves: the `structs` index re-exports through getters.
import { ProtocolVersion } from './structs/basics';
import { ContentType, SenderType, WireFormat, type FramedContent } from './structs/framing';
import type { MLSMessage } from './structs/message';
import type { PrivateMessage, SenderData } from './structs/private-message';

const MAX_V = 0x3fffffff;
const MAX_UINT64 = (1n << 64n) - 1n;
const U32 = 0x100000000;

function putUint64(out: Uint8Array, at: number, v: bigint): number {
  return putUint32(out, putUint32(out, at, Number(v >> 32n)), Number(v & 0xffffffffn));
}

const isUint32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v < U32;
const isUint64 = (v: bigint): boolean => typeof v === 'bigint' && v >= 0n && v <= MAX_UINT64;
const fits = (b: Uint8Array): boolean => b instanceof Uint8Array && b.length <= MAX_V;
const isContentType = (t: number): t is ContentType =>
  t === ContentType.application || t === ContentType.proposal || t === ContentType.commit;

// ---- FramedContentTBS (§6.1) ---------------------------------------------------------------------

/**
 * The covered contents: application data from a member. A proposal or commit body, and other
 * senders, go through the codec.
 */
function covered(content: FramedContent): content is FramedContent & {
  contentType: typeof ContentType.application;
  sender: { senderType: typeof SenderType.member; leafIndex: number };
} {
  return (
    content.contentType === ContentType.application &&
    content.sender.senderType === SenderType.member &&
    isUint32(content.sender.leafIndex) &&
    isUint64(content.epoch) &&
    fits(content.groupId) &&
    fits(content.authenticatedData) &&
    fits(content.applicationData)
  );
}

/**
 * The length of FramedContentTBS without its GroupContext (version, wire_format, FramedContent),
 * or undefined when `content` is not covered.
 */
export function tbsHeadLength(content: FramedContent): number | undefined {
  if (!covered(content)) return undefined;
  const { groupId, authenticatedData, applicationData } = content;
  return (
    4 +
    varintSize(groupId.length) +
    groupId.length +
    8 +
    5 +
    varintSize(authenticatedData.length) +
    authenticatedData.length +
    1 +
    varintSize(applicationData.length) +
    applicationData.length
  );
}

/** Write the head `tbsHeadLength` measured (the content must be covered) at `at`; returns the next offset. */
export function putTbsHead(out: Uint8Array, at: number, wireFormat: WireFormat, content: FramedContent): number {
  if (!covered(content)) throw new TypeError('putTbsHead: content not covered');
  out[at] = 0;
  out[at + 1] = ProtocolVersion.mls10;
  out[at + 2] = 0;
  out[at + 3] = wireFormat;
  let p = putOpaque(out, at + 4, content.groupId);
  p = putUint64(out, p, content.epoch);
  out[p] = SenderType.member;
  p = putUint32(out, p + 1, content.sender.leafIndex);
  p = putOpaque(out, p, content.authenticatedData);
  out[p] = ContentType.application;
  return putOpaque(out, p + 1, content.applicationData);
}

// ---- PrivateMessage (§6.3) -----------------------------------------------------------------------

/**
 * PrivateMessageContent of application data: application_data, FramedContentAuthData (the
 * signature alone: no confirmation tag outside commits) and `padding` zero bytes.
 */
export function applicationContentBytes(
  applicationData: Uint8Array,
  signature: Uint8Array,
  padding: number,
): Uint8Array {
  const body = varintSize(applicationData.length) + applicationData.length;
  const out = new Uint8Array(body + varintSize(signature.length) + signature.length + padding);
  putOpaque(out, putOpaque(out, 0, applicationData), signature);
  return out;
}

/** `unpadded` bytes of application PrivateMessageContent: the length `applicationContentBytes` writes before padding. */
export function applicationContentLength(applicationData: Uint8Array, signature: Uint8Array): number {
  return varintSize(applicationData.length) + applicationData.length + varintSize(signature.length) + signature.length;
}

/** Read a `<V>` vector's length at `at` (minimum encoding only); undefined if absent or malformed. */
function readVarint(bytes: Uint8Array, at: number, end: number): { length: number; next: number } | undefined {
  if (at >= end) return undefined;
  const first = bytes[at]!;
  const prefix = first >> 6;
  if (prefix === 0) return { length: first, next: at + 1 };
  if (prefix === 1) {
    if (at + 2 > end) return undefined;
    const length = ((first & 0x3f) << 8) | bytes[at + 1]!;
    return length < 64 ? undefined : { length, next: at + 2 };
  }
  if (prefix === 2) {
    if (at + 4 > end) return undefined;
    const length = (first & 0x3f) * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
    return length < 16384 ? undefined : { length, next: at + 4 };
  }
  return undefined;
}

/** A copy of the `<V>` vector at `at`, and the offset after it; undefined if it does not fit before `end`. */
function readOpaque(bytes: Uint8Array, at: number, end: number): { value: Uint8Array; next: number } | undefined {
  const v = readVarint(bytes, at, end);
  if (!v || v.next + v.length > end) return undefined;
  return { value: bytes.slice(v.next, v.next + v.length), next: v.next + v.length };
}

/**
 * Application PrivateMessageContent: application_data, the signature and all-zero padding.
 * Undefined for anything else (the codec then says what is wrong).
 */
export function readApplicationContent(
  plaintext: Uint8Array,
): { applicationData: Uint8Array; signature: Uint8Array } | undefined {
  const end = plaintext.length;
  const data = readOpaque(plaintext, 0, end);
  const sig = data && readOpaque(plaintext, data.next, end);
  if (!data || !sig) return undefined;
  for (let i = sig.next; i < end; i++) if (plaintext[i] !== 0) return undefined;
  return { applicationData: data.value, signature: sig.value };
}

/**
 * PrivateContentAAD (§6.3.1) and SenderDataAAD (§6.3.2) in one array: SenderDataAAD is
 * PrivateContentAAD without its last field, authenticated_data. Undefined if a value is out of range.
 */
export function privateAadBytes(
  groupId: Uint8Array,
  epoch: bigint,
  contentType: ContentType,
  authenticatedData: Uint8Array,
): { aad: Uint8Array; sdAad: Uint8Array } | undefined {
  if (!fits(groupId) || !fits(authenticatedData) || !isUint64(epoch)) return undefined;
  const sdLength = varintSize(groupId.length) + groupId.length + 9;
  const aad = new Uint8Array(sdLength + varintSize(authenticatedData.length) + authenticatedData.length);
  const p = putUint64(aad, putOpaque(aad, 0, groupId), epoch);
  aad[p] = contentType;
  putOpaque(aad, p + 1, authenticatedData);
  return { aad, sdAad: aad.subarray(0, sdLength) };
}

/** SenderData (§6.3.2): leaf_index, generation, reuse_guard; undefined if a value is out of range. */
export function senderDataBytes(v: SenderData): Uint8Array | undefined {
  if (!isUint32(v.leafIndex) || !isUint32(v.generation) || v.reuseGuard.length !== 4) return undefined;
  const out = new Uint8Array(12);
  putUint32(out, putUint32(out, 0, v.leafIndex), v.generation);
  out.set(v.reuseGuard, 8);
  return out;
}

const readUint32 = (b: Uint8Array, at: number): number =>
  b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);

/** SenderData from its 12 bytes; undefined for any other length. */
export function readSenderData(bytes: Uint8Array): SenderData | undefined {
  if (bytes.length !== 12) return undefined;
  return { leafIndex: readUint32(bytes, 0), generation: readUint32(bytes, 4), reuseGuard: bytes.slice(8, 12) };
}

// ---- MLSMessage around a PrivateMessage ----------------------------------------------------------------

/** MLSMessage { mls10, mls_private_message, PrivateMessage }; undefined if a value is out of range. */
export function privateMlsMessageBytes(m: PrivateMessage): Uint8Array | undefined {
  const { groupId, epoch, contentType, authenticatedData, encryptedSenderData, ciphertext } = m;
  if (![groupId, authenticatedData, encryptedSenderData, ciphertext].every(fits)) return undefined;
  if (!isUint64(epoch) || !isContentType(contentType)) return undefined;
  const out = new Uint8Array(
    4 +
      varintSize(groupId.length) +
      groupId.length +
      9 +
      varintSize(authenticatedData.length) +
      authenticatedData.length +
      varintSize(encryptedSenderData.length) +
      encryptedSenderData.length +
      varintSize(ciphertext.length) +
      ciphertext.length,
  );
  out[1] = ProtocolVersion.mls10;
  out[3] = WireFormat.mls_private_message;
  let p = putUint64(out, putOpaque(out, 4, groupId), epoch);
  out[p] = contentType;
  p = putOpaque(out, p + 1, authenticatedData);
  putOpaque(out, putOpaque(out, p, encryptedSenderData), ciphertext);
  return out;
}

/**
 * An MLSMessage holding a PrivateMessage, read without the codec; undefined for any other wire
 * format or anything malformed (the codec then decodes it or names the error).
 */
export function readPrivateMlsMessage(bytes: Uint8Array): MLSMessage | undefined {
  const end = bytes.length;
  if (end < 4 || bytes[0] !== 0 || bytes[1] !== ProtocolVersion.mls10) return undefined;
  if (bytes[2] !== 0 || bytes[3] !== WireFormat.mls_private_message) return undefined;
  const groupId = readOpaque(bytes, 4, end);
  if (!groupId || groupId.next + 9 > end) return undefined;
  const at = groupId.next;
  const epoch = (BigInt(readUint32(bytes, at)) << 32n) | BigInt(readUint32(bytes, at + 4));
  const contentType = bytes[at + 8]!;
  if (!isContentType(contentType)) return undefined;
  const ad = readOpaque(bytes, at + 9, end);
  const sd = ad && readOpaque(bytes, ad.next, end);
  const ct = sd && readOpaque(bytes, sd.next, end);
  if (!ad || !sd || !ct || ct.next !== end) return undefined;
  return {
    version: ProtocolVersion.mls10,
    wireFormat: WireFormat.mls_private_message,
    privateMessage: {
      groupId: groupId.value,
      epoch,
      contentType,
      authenticatedData: ad.value,
      encryptedSenderData: sd.value,
      ciphertext: ct.value,
    },
  };
}
