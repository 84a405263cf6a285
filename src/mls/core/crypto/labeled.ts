/**
 * The labelled helpers of RFC 9420 §5 and §8: RefHash (§5.2), ExpandWithLabel / DeriveSecret
 * (§8), DeriveTreeSecret (§9), SignWithLabel / VerifyWithLabel (§5.1.2) and
 * EncryptWithLabel / DecryptWithLabel (§5.1.3). Labels may be text or bytes; every label except
 * RefHash's gets the "MLS 1.0 " prefix here.
 */
import { writeTls, type TlsWriter } from '../../../codec/tls-codec';
import type { CipherSuite, HpkeCiphertextParts } from './cipher-suite';

export type Label = string | Uint8Array;

const utf8 = new TextEncoder();
const PREFIX = utf8.encode('MLS 1.0 ');
const EMPTY = new Uint8Array(0);

function labelBytes(label: Label): Uint8Array {
  return typeof label === 'string' ? utf8.encode(label) : label;
}

/** `opaque label<V> = "MLS 1.0 " + Label` written without building the concatenation twice. */
function writeMlsLabel(w: TlsWriter, label: Label): void {
  const l = labelBytes(label);
  w.varint(PREFIX.length + l.length);
  w.raw(PREFIX);
  w.raw(l);
}

/** Two `<V>` vectors back to back: RefHashInput, SignContent and EncryptContext all look like this. */
function labeledPair(label: Label, withPrefix: boolean, value: Uint8Array): Uint8Array {
  return writeTls((w) => {
    if (withPrefix) writeMlsLabel(w, label);
    else w.opaque(labelBytes(label));
    w.opaque(value);
  });
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

/** ExpandWithLabel(Secret, Label, Context, Length) = KDF.Expand(Secret, KDFLabel, Length). */
export function expandWithLabel(
  suite: CipherSuite,
  secret: Uint8Array,
  label: Label,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const kdfLabel = writeTls((w) => {
    w.uint16(length);
    writeMlsLabel(w, label);
    w.opaque(context);
  });
  return suite.kdfExpand(secret, kdfLabel, length);
}

/** DeriveSecret(Secret, Label) = ExpandWithLabel(Secret, Label, "", KDF.Nh). */
export function deriveSecret(suite: CipherSuite, secret: Uint8Array, label: Label): Uint8Array {
  return expandWithLabel(suite, secret, label, EMPTY, suite.hashLength);
}

/** DeriveTreeSecret(Secret, Label, Generation, Length): the context is the uint32 generation. */
export function deriveTreeSecret(
  suite: CipherSuite,
  secret: Uint8Array,
  label: Label,
  generation: number,
  length: number,
): Uint8Array {
  const context = new Uint8Array(4);
  new DataView(context.buffer).setUint32(0, generation);
  return expandWithLabel(suite, secret, label, context, length);
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
