/**
 * RFC 9420 §6 message protection: FramedContent is signed into an AuthenticatedContent
 * (§6.1), then sent either as a PublicMessage (membership tag, §6.2) or as a PrivateMessage
 * (content encryption with a secret-tree ratchet key and sender data encryption, §6.3).
 * Unprotecting does the reverse and always verifies the signature.
 *
 * Signing and framing are two steps because a commit's confirmation tag depends on its
 * signature (§8.2): the caller signs (`signContent`), sets `auth.confirmationTag` of a commit,
 * then frames (`toPublicMessage` / `encryptPrivateMessage`).
 *
 * `groupContext` parameters are the serialized GroupContext of the epoch (the caller encodes it
 * once per epoch, not per message).
 */
import { decodeAll, encodeValue, TlsReader, TlsWriter } from '../../codec/tls-codec';
import type { CipherSuite } from './crypto/cipher-suite';
import { mlsFail } from './errors';
import {
  applicationContentBytes,
  applicationContentLength,
  privateAadBytes,
  privateMlsMessageBytes,
  putTbsHead,
  readApplicationContent,
  readPrivateMlsMessage,
  readSenderData,
  senderDataBytes,
  tbsHeadLength,
} from './framing-bytes';
import { bytesEqual, membershipTag as macMembership } from './key-schedule';
import { putVarint, varintSize } from './put-bytes';
import { senderDataKeyNonce, type RatchetType, type SecretTree } from './secret-tree';
// From the struct modules themselves: the `structs` index re-exports through getters (per access).
import { ProposalType, ProtocolVersion } from './structs/basics';
import {
  authenticatedContentCodec,
  ContentType,
  decodeAuthData,
  decodeContentBody,
  encodeAuthData,
  encodeContentBody,
  framedContentCodec,
  SenderType,
  WireFormat,
  wireFormatCodec,
  type AuthenticatedContent,
  type ContentBody,
  type FramedContent,
  type FramedContentAuthData,
  type PublicMessage,
} from './structs/framing';
import { mlsMessageCodec, type MLSMessage, type MLSMessageBody } from './structs/message';
import { privateContentAadCodec, senderDataCodec, type PrivateMessage } from './structs/private-message';
import { isCustomProposal } from './structs/proposals';

// ---- padding ------------------------------------------------------------------------------------

/** How many zero bytes to append to a PrivateMessageContent of `unpaddedLength` bytes. */
export type PaddingPolicy = (unpaddedLength: number) => number;

/** Pad the PrivateMessageContent to a multiple of `n` bytes. */
function padToMultipleOf(n: number): PaddingPolicy {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`padding block ${n}`);
  return (len) => (n - (len % n)) % n;
}

export const noPadding: PaddingPolicy = () => 0;

/** The default: PrivateMessageContent padded to a multiple of 32 bytes. */
const defaultPadding: PaddingPolicy = padToMultipleOf(32);

// ---- secret tree (the ratchet state the caller owns) ----------------------------------------------

/**
 * What framing needs of the epoch's `SecretTree` (`secret-tree.ts`). It is mutable: sending
 * advances our ratchet (`next`), receiving forgets the generation's key once it decrypted
 * (`use`); the caller saves the changed leaf (`takeChanges` / `exportLeaf`).
 */
type MessageKeySource = Pick<SecretTree, 'next' | 'use'>;

/** The ratchet of a content type (§6.3.1): application data or handshake (proposal, commit). */
function ratchetTypeFor(contentType: ContentType): RatchetType {
  return contentType === ContentType.application ? 'application' : 'handshake';
}

// ---- signing (§6.1) ---------------------------------------------------------------------------------

function tbsHasContext(content: FramedContent): boolean {
  const t = content.sender.senderType;
  return t === SenderType.member || t === SenderType.new_member_commit;
}

/**
 * The start of FramedContentTBS: version, wire_format and the FramedContent, i.e. everything
 * but the serialized GroupContext that follows for member and new_member_commit senders.
 */
function tbsHead(wireFormat: WireFormat, content: FramedContent, groupContext: Uint8Array | undefined): Uint8Array {
  const needed = tbsHasContext(content);
  if (needed !== (groupContext !== undefined)) {
    mlsFail('invalid', `FramedContentTBS: GroupContext ${needed ? 'required' : 'not allowed'} for this sender`);
  }
  const w = new TlsWriter('FramedContentTBS', 256);
  w.uint16(ProtocolVersion.mls10);
  w.field('wire_format', wireFormatCodec, wireFormat);
  w.field('content', framedContentCodec, content);
  return w.finish();
}

/**
 * One reusable buffer for the inputs of a signature or MAC that end in the GroupContext (tens of
 * kilobytes in a large room): they are built by copying the parts into it once, with no
 * allocation per message. The view given to `fn` is valid only while `fn` runs (everything
 * here is synchronous); a very large input gets its own buffer instead of growing the shared one.
 */
let scratch = new Uint8Array(4096);
const SCRATCH_MAX = 1 << 20;

/** The shared buffer if it holds `total` bytes (grown up to SCRATCH_MAX), else a buffer of its own. */
function scratchOf(total: number): Uint8Array {
  if (total <= scratch.length) return scratch;
  const out = new Uint8Array(Math.max(total, scratch.length * 2));
  if (out.length <= SCRATCH_MAX) scratch = out;
  return out;
}

function withJoined<T>(parts: readonly Uint8Array[], fn: (joined: Uint8Array) => T, wipe?: number): T {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = scratchOf(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  try {
    return fn(out.subarray(0, total));
  } finally {
    // The signed content holds the application data: do not leave it behind (the GroupContext
    // at the end is public, `wipe` stops before it).
    out.fill(0, 0, wipe ?? total);
  }
}

/** GroupContexts from this size on get a buffer of their own (`contextTail`); smaller ones are copied. */
const TAIL_MIN = 8192;
/** Room left before the GroupContext in such a buffer, for the label, length and FramedContent. */
const TAIL_ROOM = 2048;
const contextTails = new WeakMap<Uint8Array, Uint8Array>();
const sealedContexts = new WeakSet<Uint8Array>();

/**
 * Mark an encoded GroupContext as never to be mutated (the group layer encodes one per epoch), so
 * that signing and verifying may keep a copy of it at the end of a buffer of its own. Returns it.
 */
export function sealContextBytes(groupContext: Uint8Array): Uint8Array {
  sealedContexts.add(groupContext);
  return groupContext;
}

/**
 * A buffer ending with a sealed `groupContext`, with at least `room` bytes before it; undefined
 * for a small or unsealed context, or a larger head.
 */
function contextTail(groupContext: Uint8Array, room: number): Uint8Array | undefined {
  if (groupContext.length < TAIL_MIN || room > TAIL_ROOM || !sealedContexts.has(groupContext)) return undefined;
  let buf = contextTails.get(groupContext);
  if (!buf) {
    buf = new Uint8Array(TAIL_ROOM + groupContext.length);
    buf.set(groupContext, TAIL_ROOM);
    contextTails.set(groupContext, buf);
  }
  return buf;
}

/** `opaque label<V>` of SignContent for "FramedContentTBS" (RFC 9420 §5.1.2), constant. */
const TBS_SIGN_LABEL = (() => {
  const label = new TextEncoder().encode('MLS 1.0 FramedContentTBS');
  return Uint8Array.of(label.length, ...label);
})();

/** A `<V>` length prefix (RFC 9420 §2.1.2) in its minimum encoding. */
function varintBytes(n: number): Uint8Array {
  const out = new Uint8Array(varintSize(n));
  putVarint(out, 0, n);
  return out;
}

/**
 * `fn` with SignContent = { "MLS 1.0 FramedContentTBS", FramedContentTBS } (§5.1.2, §6.1): the
 * exact bytes SignWithLabel(., "FramedContentTBS", FramedContentTBS) signs, built without
 * re-encoding or copying the GroupContext more than once. Application data from a member (every
 * message) is written straight into the shared buffer (`framing-bytes.ts`).
 */
function withSignContent<T>(
  wireFormat: WireFormat,
  content: FramedContent,
  groupContext: Uint8Array | undefined,
  fn: (signContent: Uint8Array) => T,
): T {
  const headLength = groupContext ? tbsHeadLength(content) : undefined;
  if (headLength !== undefined && groupContext) {
    const tbsLength = headLength + groupContext.length;
    const lead = TBS_SIGN_LABEL.length + varintSize(tbsLength);
    const tail = contextTail(groupContext, lead + headLength);
    // In a large room the GroupContext already sits at the end of a buffer of its own: the label,
    // length and head are written just before it. Otherwise all of it goes into the shared buffer.
    const out = tail ?? scratchOf(lead + tbsLength);
    const start = tail ? tail.length - groupContext.length - lead - headLength : 0;
    out.set(TBS_SIGN_LABEL, start);
    const gcAt = putTbsHead(out, putVarint(out, start + TBS_SIGN_LABEL.length, tbsLength), wireFormat, content);
    if (!tail) out.set(groupContext, gcAt);
    try {
      return fn(out.subarray(start, gcAt + groupContext.length));
    } finally {
      out.fill(0, start, gcAt);
    }
  }
  const head = tbsHead(wireFormat, content, groupContext);
  const tbsLength = head.length + (groupContext?.length ?? 0);
  const parts = [TBS_SIGN_LABEL, varintBytes(tbsLength), head];
  if (groupContext) parts.push(groupContext);
  return withJoined(parts, fn, TBS_SIGN_LABEL.length + parts[1]!.length + head.length);
}

export interface SignContentInput {
  /** `mls_public_message` or `mls_private_message`: the signature covers it. */
  wireFormat: WireFormat;
  content: FramedContent;
  signaturePrivateKey: Uint8Array;
  /** Serialized GroupContext; required for member and new_member_commit senders. */
  groupContext?: Uint8Array;
}

/**
 * SignWithLabel(., "FramedContentTBS", FramedContentTBS). The result has no confirmation tag:
 * for a commit the caller sets `auth.confirmationTag` before framing.
 */
export function signContent(suite: CipherSuite, input: SignContentInput): AuthenticatedContent {
  const { wireFormat, content } = input;
  if (wireFormat !== WireFormat.mls_public_message && wireFormat !== WireFormat.mls_private_message) {
    mlsFail('invalid', `wire_format ${wireFormat} does not carry FramedContent`);
  }
  const signature = withSignContent(wireFormat, content, input.groupContext, (signed) =>
    suite.sign(input.signaturePrivateKey, signed),
  );
  return { wireFormat, content, auth: { signature } };
}

/** Throws MlsProtocolError('badSignature') unless the signature verifies with `signaturePublicKey`. */
export function verifyContentSignature(
  suite: CipherSuite,
  authenticatedContent: AuthenticatedContent,
  signaturePublicKey: Uint8Array,
  groupContext: Uint8Array | undefined,
): void {
  const { wireFormat, content, auth } = authenticatedContent;
  const ok = withSignContent(wireFormat, content, groupContext, (signed) =>
    suite.verify(signaturePublicKey, signed, auth.signature),
  );
  if (!ok) {
    mlsFail('badSignature', `FramedContent signature does not verify (sender type ${content.sender.senderType})`);
  }
}

/**
 * Where the verifier finds a sender's signature key (§6.1). Keys of `new_member_commit`
 * (the commit's UpdatePath leaf) and `new_member_proposal` (the Add's KeyPackage leaf) senders
 * are read from the content itself.
 */
export interface SignatureKeyLookup {
  /** Signature key of the non-blank leaf `leafIndex`, undefined for a blank or absent leaf. */
  member(leafIndex: number): Uint8Array | undefined;
  /** Signature key of `external_senders[senderIndex]`; absent: external senders are refused. */
  external?(senderIndex: number): Uint8Array | undefined;
}

/** The key that must have signed `content` (§6.1); throws 'notFound' or 'invalid'. */
function senderSignatureKey(content: FramedContent, keys: SignatureKeyLookup): Uint8Array {
  const sender = content.sender;
  switch (sender.senderType) {
    case SenderType.member:
      return keys.member(sender.leafIndex) ?? mlsFail('notFound', `sender leaf ${sender.leafIndex} is blank`);
    case SenderType.external:
      if (content.contentType !== ContentType.proposal) mlsFail('invalid', 'an external sender may only propose');
      return keys.external?.(sender.senderIndex) ?? mlsFail('notFound', `no external sender ${sender.senderIndex}`);
    case SenderType.new_member_commit:
      if (content.contentType !== ContentType.commit) mlsFail('invalid', 'new_member_commit sender of a non-commit');
      return (
        content.commit.path?.leafNode.signatureKey ?? mlsFail('invalid', 'new_member_commit without an UpdatePath')
      );
    case SenderType.new_member_proposal: {
      const p = content.contentType === ContentType.proposal ? content.proposal : undefined;
      if (!p || isCustomProposal(p) || p.proposalType !== ProposalType.add) {
        mlsFail('invalid', 'new_member_proposal sender of something else than an Add proposal');
      }
      return p.add.keyPackage.leafNode.signatureKey;
    }
  }
}

/** Encoded AuthenticatedContent: the input of ProposalRef (§5.2) and the transcript hashes (§8.2). */
export function authenticatedContentBytes(authenticatedContent: AuthenticatedContent): Uint8Array {
  return encodeValue(authenticatedContent, authenticatedContentCodec);
}

// ---- PublicMessage (§6.2) ----------------------------------------------------------------------------

/** MAC(membership_key, AuthenticatedContentTBM). */
export function membershipTag(
  suite: CipherSuite,
  membershipKey: Uint8Array,
  authenticatedContent: AuthenticatedContent,
  groupContext: Uint8Array,
): Uint8Array {
  const { wireFormat, content, auth } = authenticatedContent;
  const head = tbsHead(wireFormat, content, groupContext);
  const w = new TlsWriter('AuthenticatedContentTBM', 128);
  w.field('auth', (ww, a: FramedContentAuthData) => encodeAuthData(ww, a, content.contentType), auth);
  return withJoined([head, groupContext, w.finish()], (tbm) => macMembership(suite, membershipKey, tbm));
}

export interface PublicFramingKeys {
  /** Serialized GroupContext; required for member and new_member_commit senders. */
  groupContext?: Uint8Array;
  /** Required for member senders. */
  membershipKey?: Uint8Array;
}

/** A commit is framed only once the caller has set its confirmation tag (§6.1). */
function requireConfirmationTag(ac: AuthenticatedContent): void {
  if (ac.content.contentType === ContentType.commit && ac.auth.confirmationTag === undefined) {
    mlsFail('invalid', 'a commit is framed only with its confirmation_tag set');
  }
}

/** Frame a signed `mls_public_message` AuthenticatedContent (never application data). */
export function toPublicMessage(
  suite: CipherSuite,
  authenticatedContent: AuthenticatedContent,
  keys: PublicFramingKeys,
): PublicMessage {
  const { wireFormat, content, auth } = authenticatedContent;
  if (wireFormat !== WireFormat.mls_public_message) mlsFail('invalid', `content signed for wire_format ${wireFormat}`);
  if (content.contentType === ContentType.application) {
    mlsFail('invalid', 'application data must be sent as a PrivateMessage');
  }
  requireConfirmationTag(authenticatedContent);
  if (content.sender.senderType !== SenderType.member) return { content, auth };
  if (!keys.membershipKey || !keys.groupContext) {
    mlsFail('invalid', 'a member PublicMessage needs the membership key and GroupContext');
  }
  return {
    content,
    auth,
    membershipTag: membershipTag(suite, keys.membershipKey, authenticatedContent, keys.groupContext),
  };
}

export interface PublicUnprotectKeys {
  /** Serialized GroupContext of the message's epoch. */
  groupContext: Uint8Array;
  membershipKey: Uint8Array;
  signatureKeys: SignatureKeyLookup;
}

/**
 * Check the membership tag (member senders; 'badTag') and the signature ('badSignature'), and
 * the sender rules of §6.1 ('invalid'). Group id and epoch are the caller's to check.
 */
export function fromPublicMessage(
  suite: CipherSuite,
  message: PublicMessage,
  keys: PublicUnprotectKeys,
): AuthenticatedContent {
  const { content, auth } = message;
  if (content.contentType === ContentType.application) {
    mlsFail('invalid', 'application data in a PublicMessage');
  }
  const authenticatedContent: AuthenticatedContent = { wireFormat: WireFormat.mls_public_message, content, auth };
  const groupContext = tbsHasContext(content) ? keys.groupContext : undefined;
  if (content.sender.senderType === SenderType.member) {
    const tag = message.membershipTag ?? mlsFail('badTag', 'member PublicMessage without membership_tag');
    const expected = membershipTag(suite, keys.membershipKey, authenticatedContent, keys.groupContext);
    if (!bytesEqual(tag, expected)) mlsFail('badTag', 'membership_tag does not verify');
  }
  const signatureKey = senderSignatureKey(content, keys.signatureKeys);
  verifyContentSignature(suite, authenticatedContent, signatureKey, groupContext);
  return authenticatedContent;
}

// ---- PrivateMessage (§6.3) ---------------------------------------------------------------------------

export interface PrivateFramingKeys {
  senderDataSecret: Uint8Array;
  /** Mutated: the sender's ratchet advances by one generation. */
  secretTree: MessageKeySource;
}

export interface EncryptOptions {
  padding?: PaddingPolicy;
  /** Tests only: a fixed reuse guard instead of 4 random bytes. */
  reuseGuard?: Uint8Array;
}

export interface EncryptedPrivateMessage {
  message: PrivateMessage;
  generation: number;
}

/**
 * PrivateContentAAD (§6.3.1) and SenderDataAAD (§6.3.2), encoded once: SenderDataAAD is
 * PrivateContentAAD without its last field, authenticated_data.
 */
function privateAads(
  groupId: Uint8Array,
  epoch: bigint,
  contentType: ContentType,
  authenticatedData: Uint8Array,
): { aad: Uint8Array; sdAad: Uint8Array } {
  const direct = privateAadBytes(groupId, epoch, contentType, authenticatedData);
  if (direct) return direct;
  const aad = encodeValue({ groupId, epoch, contentType, authenticatedData }, privateContentAadCodec);
  const adField =
    authenticatedData.length + (authenticatedData.length < 64 ? 1 : authenticatedData.length < 16384 ? 2 : 4);
  return { aad, sdAad: aad.subarray(0, aad.length - adField) };
}

/**
 * A fresh random reuse_guard (§6.3.2), cut from a pool of random bytes refilled from the
 * suite's CSPRNG: one call per 128 messages instead of one per message.
 */
let guardPool: Uint8Array = new Uint8Array(0);
let guardAt = 0;
function freshReuseGuard(suite: CipherSuite): Uint8Array {
  if (guardAt + 4 > guardPool.length) {
    guardPool = suite.randomBytes(512);
    guardAt = 0;
  }
  const guard = guardPool.slice(guardAt, guardAt + 4);
  guardPool.fill(0, guardAt, guardAt + 4);
  guardAt += 4;
  return guard;
}

/** The ratchet nonce with its first four bytes XORed with the reuse guard (a fresh array). */
function guardedNonce(nonce: Uint8Array, reuseGuard: Uint8Array): Uint8Array {
  const out = Uint8Array.from(nonce);
  for (let i = 0; i < 4; i++) out[i]! ^= reuseGuard[i]!;
  return out;
}

/** PrivateMessageContent (§6.3.1): body, auth, then the zero padding `padding` asks for. */
function privateContentBytes(content: FramedContent, auth: FramedContentAuthData, padding: PaddingPolicy): Uint8Array {
  const checked = (n: number): number =>
    Number.isInteger(n) && n >= 0 ? n : mlsFail('invalid', `padding policy returned ${n}`);
  if (content.contentType === ContentType.application && auth.confirmationTag === undefined) {
    const { applicationData } = content;
    const pad = checked(padding(applicationContentLength(applicationData, auth.signature)));
    return applicationContentBytes(applicationData, auth.signature, pad);
  }
  const w = new TlsWriter('PrivateMessageContent', 256);
  encodeContentBody(w, content);
  w.field('auth', (ww, a: FramedContentAuthData) => encodeAuthData(ww, a, content.contentType), auth);
  const pad = checked(padding(w.length));
  if (pad > 0) w.raw(new Uint8Array(pad));
  return w.finish();
}

/** Encrypt a signed `mls_private_message` AuthenticatedContent from a member sender. */
export function encryptPrivateMessage(
  suite: CipherSuite,
  authenticatedContent: AuthenticatedContent,
  keys: PrivateFramingKeys,
  options: EncryptOptions = {},
): EncryptedPrivateMessage {
  const { wireFormat, content, auth } = authenticatedContent;
  if (wireFormat !== WireFormat.mls_private_message) mlsFail('invalid', `content signed for wire_format ${wireFormat}`);
  const sender = content.sender;
  if (sender.senderType !== SenderType.member) mlsFail('invalid', 'only members send PrivateMessages');
  requireConfirmationTag(authenticatedContent);
  const { contentType, groupId, epoch, authenticatedData } = content;

  const plaintext = privateContentBytes(content, auth, options.padding ?? defaultPadding);

  const reuseGuard = options.reuseGuard ?? freshReuseGuard(suite);
  if (reuseGuard.length !== 4) mlsFail('invalid', 'reuse_guard must be 4 bytes');
  const { generation, key, nonce } = keys.secretTree.next(sender.leafIndex, ratchetTypeFor(contentType));
  const { aad, sdAad } = privateAads(groupId, epoch, contentType, authenticatedData);
  const ciphertext = suite.aeadSeal(key, guardedNonce(nonce, reuseGuard), aad, plaintext);

  const sdValue = { leafIndex: sender.leafIndex, generation, reuseGuard };
  const senderData = senderDataBytes(sdValue) ?? encodeValue(sdValue, senderDataCodec);
  const sd = senderDataKeyNonce(suite, keys.senderDataSecret, ciphertext);
  const encryptedSenderData = suite.aeadSeal(sd.key, sd.nonce, sdAad, senderData);

  return {
    message: { groupId, epoch, contentType, authenticatedData, encryptedSenderData, ciphertext },
    generation,
  };
}

export interface PrivateUnprotectKeys extends PrivateFramingKeys {
  /** Serialized GroupContext of the message's epoch. */
  groupContext: Uint8Array;
  signatureKeys: SignatureKeyLookup;
}

export interface DecryptedPrivateMessage {
  authenticatedContent: AuthenticatedContent;
  leafIndex: number;
  generation: number;
}

/** Body and auth of a decrypted PrivateMessageContent (§6.3.1), whose padding must be zeros. */
function readPrivateContent(
  plaintext: Uint8Array,
  contentType: ContentType,
): { body: ContentBody; auth: FramedContentAuthData } {
  const app = contentType === ContentType.application ? readApplicationContent(plaintext) : undefined;
  if (app) {
    const body = { contentType: ContentType.application, applicationData: app.applicationData };
    return { body, auth: { signature: app.signature } };
  }
  const r = new TlsReader(plaintext, 'PrivateMessageContent');
  const body = decodeContentBody(r, contentType);
  const auth = r.field('auth', (rr) => decodeAuthData(rr, contentType));
  for (let i = r.offset; i < plaintext.length; i++) {
    if (plaintext[i] !== 0) r.fail('non-zero padding byte', i);
  }
  return { body, auth };
}

/**
 * Decrypt sender data and content ('decryptFailed'), consume the generation's key (replays and
 * generations outside the window throw), reject non-zero padding, verify the signature.
 */
export function decryptPrivateMessage(
  suite: CipherSuite,
  message: PrivateMessage,
  keys: PrivateUnprotectKeys,
): DecryptedPrivateMessage {
  const { groupId, epoch, contentType, authenticatedData, ciphertext } = message;

  const sd = senderDataKeyNonce(suite, keys.senderDataSecret, ciphertext);
  const { aad, sdAad } = privateAads(groupId, epoch, contentType, authenticatedData);
  const senderData = suite.aeadOpen(sd.key, sd.nonce, sdAad, message.encryptedSenderData);
  const { leafIndex, generation, reuseGuard } = readSenderData(senderData) ?? decodeAll(senderData, senderDataCodec);
  const signatureKey = keys.signatureKeys.member(leafIndex);
  if (!signatureKey) mlsFail('notFound', `SenderData names leaf ${leafIndex}, which is blank`);

  // The generation's key is forgotten only once it decrypted the content (a forgery burns nothing).
  const plaintext = keys.secretTree.use(leafIndex, ratchetTypeFor(contentType), generation, ({ key, nonce }) =>
    suite.aeadOpen(key, guardedNonce(nonce, reuseGuard), aad, ciphertext),
  );

  const { body, auth } = readPrivateContent(plaintext, contentType);
  const content = {
    groupId,
    epoch,
    sender: { senderType: SenderType.member, leafIndex },
    authenticatedData,
    ...body,
  } as FramedContent;
  const authenticatedContent: AuthenticatedContent = { wireFormat: WireFormat.mls_private_message, content, auth };
  verifyContentSignature(suite, authenticatedContent, signatureKey, keys.groupContext);
  return { authenticatedContent, leafIndex, generation };
}

// ---- MLSMessage --------------------------------------------------------------------------------------

/** Serialized MLSMessage (version mls10) around a PublicMessage, PrivateMessage, Welcome, GroupInfo or KeyPackage. */
export function encodeMlsMessage(body: MLSMessageBody): Uint8Array {
  const direct = body.wireFormat === WireFormat.mls_private_message && privateMlsMessageBytes(body.privateMessage);
  return direct || encodeValue({ version: ProtocolVersion.mls10, ...body } as MLSMessage, mlsMessageCodec);
}

/** Decode an MLSMessage (CodecError for bad bytes; a version other than mls10 is refused by the codec). */
export function decodeMlsMessage(bytes: Uint8Array): MLSMessage {
  return (bytes instanceof Uint8Array && readPrivateMlsMessage(bytes)) || decodeAll(bytes, mlsMessageCodec);
}
