/**
 * The epoch key schedule (RFC 9420 §8): from the previous epoch's init_secret, this epoch's
 * commit_secret, psk_secret and encoded GroupContext to every secret of the epoch, plus the
 * helpers that use them (MLS-Exporter §8.5, external init §8.3, confirmation and membership
 * tags §6.1 / §6.2, Welcome key and nonce §12.4.3.1). Bytes in, bytes out.
 */
import { timingSafeEqual } from 'node:crypto';
import type { CipherSuite, KeyPair } from './crypto/cipher-suite';
import { deriveSecret, expandWithLabel, type Label } from './crypto/labeled';

/** Everything an epoch derives from epoch_secret (§8, Table 4), plus the joiner and welcome secrets. */
export interface EpochSecrets {
  readonly joinerSecret: Uint8Array;
  readonly welcomeSecret: Uint8Array;
  readonly epochSecret: Uint8Array;
  readonly senderDataSecret: Uint8Array;
  readonly encryptionSecret: Uint8Array;
  readonly exporterSecret: Uint8Array;
  readonly externalSecret: Uint8Array;
  readonly confirmationKey: Uint8Array;
  readonly membershipKey: Uint8Array;
  readonly resumptionPsk: Uint8Array;
  readonly epochAuthenticator: Uint8Array;
  /** init_secret of the next epoch. */
  readonly initSecret: Uint8Array;
}

/** joiner_secret = ExpandWithLabel(KDF.Extract(init_secret, commit_secret), "joiner", GroupContext, Nh). */
function computeJoinerSecret(
  suite: CipherSuite,
  initSecret: Uint8Array,
  commitSecret: Uint8Array,
  groupContext: Uint8Array,
): Uint8Array {
  const prk = suite.kdfExtract(initSecret, commitSecret);
  return expandWithLabel(suite, prk, 'joiner', groupContext, suite.hashLength);
}

/**
 * The rest of the schedule from joiner_secret: what a new member does after decrypting its
 * GroupSecrets. `pskSecret` defaults to the all-zero secret (no PSKs).
 */
export function epochSecretsFromJoiner(
  suite: CipherSuite,
  joinerSecret: Uint8Array,
  groupContext: Uint8Array,
  pskSecret: Uint8Array = new Uint8Array(suite.hashLength),
): EpochSecrets {
  const member = suite.kdfExtract(joinerSecret, pskSecret);
  const epochSecret = expandWithLabel(suite, member, 'epoch', groupContext, suite.hashLength);
  const d = (label: string): Uint8Array => deriveSecret(suite, epochSecret, label);
  return {
    joinerSecret,
    welcomeSecret: deriveSecret(suite, member, 'welcome'),
    epochSecret,
    senderDataSecret: d('sender data'),
    encryptionSecret: d('encryption'),
    exporterSecret: d('exporter'),
    externalSecret: d('external'),
    confirmationKey: d('confirm'),
    membershipKey: d('membership'),
    resumptionPsk: d('resumption'),
    epochAuthenticator: d('authentication'),
    initSecret: d('init'),
  };
}

export interface KeyScheduleInput {
  /** init_secret of the previous epoch (random for a new group, §8 / external init §8.3). */
  readonly initSecret: Uint8Array;
  /** commit_secret; the all-zero secret when the Commit has no path. */
  readonly commitSecret?: Uint8Array;
  /** psk_secret (`computePskSecret`); the all-zero secret when there are no PSKs. */
  readonly pskSecret?: Uint8Array;
  /** The TLS-encoded GroupContext of the new epoch. */
  readonly groupContext: Uint8Array;
}

/** The whole schedule for a member that processes the Commit. */
export function computeEpochSecrets(suite: CipherSuite, input: KeyScheduleInput): EpochSecrets {
  const zero = new Uint8Array(suite.hashLength);
  const joiner = computeJoinerSecret(suite, input.initSecret, input.commitSecret ?? zero, input.groupContext);
  return epochSecretsFromJoiner(suite, joiner, input.groupContext, input.pskSecret ?? zero);
}

/** welcome_key and welcome_nonce (§12.4.3.1), which encrypt the Welcome's GroupInfo. */
export function welcomeKeyAndNonce(
  suite: CipherSuite,
  welcomeSecret: Uint8Array,
): { key: Uint8Array; nonce: Uint8Array } {
  const empty = new Uint8Array(0);
  return {
    key: expandWithLabel(suite, welcomeSecret, 'key', empty, suite.aeadKeyLength),
    nonce: expandWithLabel(suite, welcomeSecret, 'nonce', empty, suite.aeadNonceLength),
  };
}

/** MLS-Exporter(Label, Context, Length) = ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported", Hash(Context), Length). */
export function mlsExporter(
  suite: CipherSuite,
  exporterSecret: Uint8Array,
  label: Label,
  context: Uint8Array,
  length: number,
): Uint8Array {
  return expandWithLabel(suite, deriveSecret(suite, exporterSecret, label), 'exported', suite.hash(context), length);
}

// ---- §8.3 external initialisation ------------------------------------------------------------

/** The external key pair of the epoch: KEM.DeriveKeyPair(external_secret). */
export function externalKeyPair(suite: CipherSuite, externalSecret: Uint8Array): KeyPair {
  return suite.hpkeDeriveKeyPair(externalSecret);
}

const EXTERNAL_INIT_LABEL = new TextEncoder().encode('MLS 1.0 external init secret');

/** The joiner's side of ExternalInit: kem_output for the proposal and the init_secret it yields. */
export function externalInitSend(
  suite: CipherSuite,
  externalPub: Uint8Array,
): { kemOutput: Uint8Array; initSecret: Uint8Array } {
  const { kemOutput, secret } = suite.hpkeExport(externalPub, new Uint8Array(0), EXTERNAL_INIT_LABEL, suite.hashLength);
  return { kemOutput, initSecret: secret };
}

/** A member's side of ExternalInit: the init_secret from the proposal's kem_output. */
export function externalInitReceive(suite: CipherSuite, externalSecret: Uint8Array, kemOutput: Uint8Array): Uint8Array {
  const { privateKey } = externalKeyPair(suite, externalSecret);
  return suite.hpkeExportReceiver(privateKey, kemOutput, new Uint8Array(0), EXTERNAL_INIT_LABEL, suite.hashLength);
}

// ---- §6.1 / §6.2 tags --------------------------------------------------------------------------

/** Constant-time equality of two byte strings. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash). */
export function confirmationTag(
  suite: CipherSuite,
  confirmationKey: Uint8Array,
  confirmedTranscriptHash: Uint8Array,
): Uint8Array {
  return suite.mac(confirmationKey, confirmedTranscriptHash);
}

export function verifyConfirmationTag(
  suite: CipherSuite,
  confirmationKey: Uint8Array,
  confirmedTranscriptHash: Uint8Array,
  tag: Uint8Array,
): boolean {
  return bytesEqual(confirmationTag(suite, confirmationKey, confirmedTranscriptHash), tag);
}

/** membership_tag = MAC(membership_key, AuthenticatedContentTBM), the TBM given encoded. */
export function membershipTag(
  suite: CipherSuite,
  membershipKey: Uint8Array,
  authenticatedContentTbm: Uint8Array,
): Uint8Array {
  return suite.mac(membershipKey, authenticatedContentTbm);
}

export function verifyMembershipTag(
  suite: CipherSuite,
  membershipKey: Uint8Array,
  authenticatedContentTbm: Uint8Array,
  tag: Uint8Array,
): boolean {
  return bytesEqual(membershipTag(suite, membershipKey, authenticatedContentTbm), tag);
}
