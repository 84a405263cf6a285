/**
 * The labelled helpers of RFC 9420 §5 and §8: RefHash (§5.2), ExpandWithLabel / DeriveSecret
 * (§8), DeriveTreeSecret (§9), SignWithLabel / VerifyWithLabel (§5.1.2) and
 * EncryptWithLabel / DecryptWithLabel (§5.1.3). Labels may be text or bytes; every label except
 * RefHash's gets the "MLS 1.0 " prefix here.
 */
import { putUint32, putVarint, varintSize } from '../put-bytes';
import type { CipherSuite, HpkeCiphertextParts } from './cipher-suite';

export type Label = string | Uint8Array;

const utf8 = new TextEncoder();
const PREFIX = utf8.encode('MLS 1.0 ');
const EMPTY = new Uint8Array(0);

function labelBytes(label: Label): Uint8Array {
  return typeof label === 'string' ? utf8.encode(label) : label;
}

/** `"MLS 1.0 " + Label` for the few text labels the protocol uses, encoded once each. */
const mlsLabels = new Map<string, Uint8Array>();

function mlsLabelBytes(label: Label): Uint8Array {
  if (typeof label !== 'string') {
    const out = new Uint8Array(PREFIX.length + label.length);
    out.set(PREFIX);
    out.set(label, PREFIX.length);
    return out;
  }
  let bytes = mlsLabels.get(label);
  if (bytes === undefined) {
    bytes = utf8.encode(`MLS 1.0 ${label}`);
    if (mlsLabels.size < 256) mlsLabels.set(label, bytes);
  }
  return bytes;
}

/** Two `<V>` vectors back to back: RefHashInput, SignContent and EncryptContext all look like this. */
function labeledPair(label: Label, withPrefix: boolean, value: Uint8Array): Uint8Array {
  const l = withPrefix ? mlsLabelBytes(label) : labelBytes(label);
  const out = new Uint8Array(varintSize(l.length) + l.length + varintSize(value.length) + value.length);
  const at = putVarint(out, 0, l.length);
  out.set(l, at);
  out.set(value, putVarint(out, at + l.length, value.length));
  return out;
}

// ---- §5.2 hash-based identifiers ------------------------------------------------------------

/** RefHash(label, value) = Hash(RefHashInput) with the label as given (no "MLS 1.0 " prefix added). */
export function refHash(suite: CipherSuite, label: Label, value: Uint8Array): Uint8Array {
  return suite.hash(labeledPair(label, false, value));
}

/** KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage) over the encoded KeyPackage. */
export function makeKeyPackageRef(suite: CipherSuite, keyPackageBytes: Uint8Array): Uint8Array {
  return refHash(suite, 'MLS 1.0 KeyPackage Reference', keyPackageBytes);
}

/** ProposalRef = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent) over its encoding. */
export function makeProposalRef(suite: CipherSuite, authenticatedContentBytes: Uint8Array): Uint8Array {
  return refHash(suite, 'MLS 1.0 Proposal Reference', authenticatedContentBytes);
}

// ---- §8 key derivation ------------------------------------------------------------------------

/**
 * KDFLabel = { uint16 length; opaque label<V> = "MLS 1.0 " + Label; opaque context<V> }, written
 * straight into an array of its exact size (this runs several times per message), plus `extra`
 * bytes after it for the caller.
 */
function kdfLabelBytes(label: Label, context: Uint8Array, length: number, extra = 0): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 0xffff) throw new RangeError(`KDFLabel length ${length}`);
  const l = mlsLabelBytes(label);
  const out = new Uint8Array(2 + varintSize(l.length) + l.length + varintSize(context.length) + context.length + extra);
  out[0] = length >> 8;
  out[1] = length & 0xff;
  let at = putVarint(out, 2, l.length);
  out.set(l, at);
  at = putVarint(out, at + l.length, context.length);
  out.set(context, at);
  return out;
}

/**
 * ExpandWithLabel(Secret, Label, Context, Length) = KDF.Expand(Secret, KDFLabel, Length). Up to
 * one hash output (every key, nonce and secret of MLS) HKDF-Expand is its first block alone,
 * T(1) = HMAC(PRK, info || 0x01) (RFC 5869 §2.3): one MAC over KDFLabel with the counter byte.
 */
export function expandWithLabel(
  suite: CipherSuite,
  secret: Uint8Array,
  label: Label,
  context: Uint8Array,
  length: number,
): Uint8Array {
  if (length > suite.hashLength) return suite.kdfExpand(secret, kdfLabelBytes(label, context, length), length);
  const info = kdfLabelBytes(label, context, length, 1);
  info[info.length - 1] = 1;
  const t1 = suite.mac(secret, info);
  return length === t1.length ? t1 : t1.subarray(0, length);
}

/** DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", KDF.Nh). */
export function deriveSecret(suite: CipherSuite, secret: Uint8Array, label: Label): Uint8Array {
  return expandWithLabel(suite, secret, label, EMPTY, suite.hashLength);
}

/** The uint32 generation of DeriveTreeSecret (copied into the KDFLabel before the next call). */
const generationBytes = new Uint8Array(4);

/** DeriveTreeSecret(Secret, Label, Generation, Length): the context is the uint32 generation. */
export function deriveTreeSecret(
  suite: CipherSuite,
  secret: Uint8Array,
  label: Label,
  generation: number,
  length: number,
): Uint8Array {
  putUint32(generationBytes, 0, generation);
  return expandWithLabel(suite, secret, label, generationBytes, length);
}

// ---- §5.1.2 signatures ------------------------------------------------------------------------

/** SignWithLabel(SignatureKey, Label, Content) = Signature.Sign(key, SignContent). */
export function signWithLabel(
  suite: CipherSuite,
  privateKey: Uint8Array,
  label: Label,
  content: Uint8Array,
): Uint8Array {
  return suite.sign(privateKey, labeledPair(label, true, content));
}

/** VerifyWithLabel: false (never a throw) for a bad key, bad encoding or wrong signature. */
export function verifyWithLabel(
  suite: CipherSuite,
  publicKey: Uint8Array,
  label: Label,
  content: Uint8Array,
  signature: Uint8Array,
): boolean {
  return suite.verify(publicKey, labeledPair(label, true, content), signature);
}

// ---- §5.1.3 public-key encryption ---------------------------------------------------------------

/** EncryptWithLabel = SealBase(pk, EncryptContext, "", plaintext). */
export function encryptWithLabel(
  suite: CipherSuite,
  publicKey: Uint8Array,
  label: Label,
  context: Uint8Array,
  plaintext: Uint8Array,
): HpkeCiphertextParts {
  return suite.hpkeSeal(publicKey, labeledPair(label, true, context), EMPTY, plaintext);
}

/**
 * EncryptWithLabel of one plaintext to each of `publicKeys` (an UpdatePath node's secret to its
 * copath resolution): the EncryptContext, and with it HPKE's info hash, is built once.
 */
export function encryptWithLabelToEach(
  suite: CipherSuite,
  publicKeys: readonly Uint8Array[],
  label: Label,
  context: Uint8Array,
  plaintext: Uint8Array,
): HpkeCiphertextParts[] {
  const info = labeledPair(label, true, context);
  return publicKeys.map((publicKey) => suite.hpkeSeal(publicKey, info, EMPTY, plaintext));
}

/** DecryptWithLabel = OpenBase(kem_output, sk, EncryptContext, "", ciphertext); throws 'decryptFailed'. */
export function decryptWithLabel(
  suite: CipherSuite,
  privateKey: Uint8Array,
  label: Label,
  context: Uint8Array,
  kemOutput: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  return suite.hpkeOpen(privateKey, kemOutput, labeledPair(label, true, context), EMPTY, ciphertext);
}
