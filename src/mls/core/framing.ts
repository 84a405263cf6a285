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
import type { CipherSuite } from './crypto/cipher-suite';
import {
  ContentType,
  SenderType,
  WireFormat,
  type AuthenticatedContent,
  type FramedContent,
  type MLSMessage,
  type MLSMessageBody,
  type PrivateMessage,
  type PublicMessage,
} from './structs';

// ---- padding ------------------------------------------------------------------------------------

/** How many zero bytes to append to a PrivateMessageContent of `unpaddedLength` bytes. */
export type PaddingPolicy = (unpaddedLength: number) => number;

/** Pad the PrivateMessageContent to a multiple of `n` bytes. */
export function padToMultipleOf(n: number): PaddingPolicy {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`padding block ${n}`);
  return (len) => (n - (len % n)) % n;
}

export const noPadding: PaddingPolicy = () => 0;

/** The default: PrivateMessageContent padded to a multiple of 32 bytes. */
export const defaultPadding: PaddingPolicy = padToMultipleOf(32);

// ---- secret tree (the ratchet state the caller owns) ----------------------------------------------

/** Which of a leaf's two ratchets (§9.1): handshake for proposals and commits, application for data. */
export type RatchetKind = 'handshake' | 'application';

export interface RatchetKey {
  generation: number;
  key: Uint8Array;
  nonce: Uint8Array;
}

/**
 * What framing needs of the secret tree (`secret-tree.ts`). It is mutable: each call advances
 * or consumes one leaf's ratchet, which the caller persists.
 */
export interface MessageKeySource {
  /** The next unused generation of `leafIndex`'s ratchet, consumed. */
  nextSendKey(leafIndex: number, kind: RatchetKind): RatchetKey;
  /** The key of a received generation, consumed; a generation already used or out of the window throws. */
  receiveKey(leafIndex: number, kind: RatchetKind, generation: number): RatchetKey;
}

export function ratchetKindFor(contentType: ContentType): RatchetKind {
  return contentType === ContentType.application ? 'application' : 'handshake';
}

// ---- signing (§6.1) ---------------------------------------------------------------------------------

/** Serialized FramedContentTBS; `groupContext` is required for member and new_member_commit senders. */
export function framedContentTbsBytes(
  wireFormat: WireFormat,
  content: FramedContent,
  groupContext: Uint8Array | undefined,
): Uint8Array {
  void wireFormat;
  void content;
  void groupContext;
  throw new Error('framedContentTbsBytes: not implemented yet');
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
  void suite;
  void input;
  throw new Error('signContent: not implemented yet');
}

/** Throws MlsProtocolError('badSignature') unless the signature verifies with `signaturePublicKey`. */
export function verifyContentSignature(
  suite: CipherSuite,
  authenticatedContent: AuthenticatedContent,
  signaturePublicKey: Uint8Array,
  groupContext: Uint8Array | undefined,
): void {
  void suite;
  void authenticatedContent;
  void signaturePublicKey;
  void groupContext;
  throw new Error('verifyContentSignature: not implemented yet');
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
export function senderSignatureKey(content: FramedContent, keys: SignatureKeyLookup): Uint8Array {
  void content;
  void keys;
  void SenderType;
  throw new Error('senderSignatureKey: not implemented yet');
}

/** Encoded AuthenticatedContent: the input of ProposalRef (§5.2) and the transcript hashes (§8.2). */
export function authenticatedContentBytes(authenticatedContent: AuthenticatedContent): Uint8Array {
  void authenticatedContent;
  throw new Error('authenticatedContentBytes: not implemented yet');
}

// ---- PublicMessage (§6.2) ----------------------------------------------------------------------------

/** MAC(membership_key, AuthenticatedContentTBM). */
export function membershipTag(
  suite: CipherSuite,
  membershipKey: Uint8Array,
  authenticatedContent: AuthenticatedContent,
  groupContext: Uint8Array,
): Uint8Array {
  void suite;
  void membershipKey;
  void authenticatedContent;
  void groupContext;
  throw new Error('membershipTag: not implemented yet');
}

export interface PublicFramingKeys {
  /** Serialized GroupContext; required for member and new_member_commit senders. */
  groupContext?: Uint8Array;
  /** Required for member senders. */
  membershipKey?: Uint8Array;
}

/** Frame a signed `mls_public_message` AuthenticatedContent (never application data). */
export function toPublicMessage(
  suite: CipherSuite,
  authenticatedContent: AuthenticatedContent,
  keys: PublicFramingKeys,
): PublicMessage {
  void suite;
  void authenticatedContent;
  void keys;
  throw new Error('toPublicMessage: not implemented yet');
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
  void suite;
  void message;
  void keys;
  throw new Error('fromPublicMessage: not implemented yet');
}

// ---- PrivateMessage (§6.3) ---------------------------------------------------------------------------

/** (sender_data_key, sender_data_nonce) from the first KDF.Nh bytes of the content ciphertext (§6.3.2). */
export function senderDataKeyNonce(
  suite: CipherSuite,
  senderDataSecret: Uint8Array,
  ciphertext: Uint8Array,
): { key: Uint8Array; nonce: Uint8Array } {
  void suite;
  void senderDataSecret;
  void ciphertext;
  throw new Error('senderDataKeyNonce: not implemented yet');
}

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

/** Encrypt a signed `mls_private_message` AuthenticatedContent from a member sender. */
export function encryptPrivateMessage(
  suite: CipherSuite,
  authenticatedContent: AuthenticatedContent,
  keys: PrivateFramingKeys,
  options?: EncryptOptions,
): EncryptedPrivateMessage {
  void suite;
  void authenticatedContent;
  void keys;
  void options;
  throw new Error('encryptPrivateMessage: not implemented yet');
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

/**
 * Decrypt sender data and content ('decryptFailed'), consume the generation's key (replays and
 * generations outside the window throw), reject non-zero padding, verify the signature.
 */
export function decryptPrivateMessage(
  suite: CipherSuite,
  message: PrivateMessage,
  keys: PrivateUnprotectKeys,
): DecryptedPrivateMessage {
  void suite;
  void message;
  void keys;
  throw new Error('decryptPrivateMessage: not implemented yet');
}

// ---- MLSMessage --------------------------------------------------------------------------------------

/** Serialized MLSMessage (version mls10) around a PublicMessage, PrivateMessage, Welcome, GroupInfo or KeyPackage. */
export function encodeMlsMessage(body: MLSMessageBody): Uint8Array {
  void body;
  throw new Error('encodeMlsMessage: not implemented yet');
}
/** Decode an MLSMessage (CodecError for bad bytes; a version other than mls10 is refused by the codec). */
export function decodeMlsMessage(bytes: Uint8Array): MLSMessage {
  void bytes;
  void WireFormat;
  throw new Error('decodeMlsMessage: not implemented yet');
}
