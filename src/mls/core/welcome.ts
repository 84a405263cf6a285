/**
 * The cryptography of joining (RFC 9420 §12.4.3): GroupInfo signatures (SignWithLabel
 * "GroupInfoTBS"), GroupInfo encryption under the welcome_secret's key and nonce
 * (§12.4.3.1), GroupSecrets encryption to each new member's init key (EncryptWithLabel
 * "Welcome", context = encrypted_group_info), and finding our entry in a Welcome. What the
 * secrets mean (key schedule, tree, PSKs) is the group state machine's business (`group/`).
 */
import type { CipherSuite, KeyPair } from './crypto/cipher-suite';
import type {
  EncryptedGroupSecrets,
  Extension,
  GroupContext,
  GroupInfo,
  GroupInfoTBS,
  GroupSecrets,
  HPKECiphertext,
  KeyPackageRef,
  Welcome,
} from './structs';

// ---- GroupInfo signature -------------------------------------------------------------------------

/** SignWithLabel(., "GroupInfoTBS", GroupInfoTBS) by the signer's leaf signature key. */
export function signGroupInfo(suite: CipherSuite, tbs: GroupInfoTBS, signaturePrivateKey: Uint8Array): GroupInfo {
  void suite;
  void tbs;
  void signaturePrivateKey;
  throw new Error('signGroupInfo: not implemented yet');
}

/** Throws MlsProtocolError('badSignature') unless `groupInfo` is signed by `signerPublicKey` (leaf `signer`'s key). */
export function verifyGroupInfo(suite: CipherSuite, groupInfo: GroupInfo, signerPublicKey: Uint8Array): void {
  void suite;
  void groupInfo;
  void signerPublicKey;
  throw new Error('verifyGroupInfo: not implemented yet');
}

/** external_priv, external_pub = KEM.DeriveKeyPair(external_secret) (§8). */
export function externalKeyPair(suite: CipherSuite, externalSecret: Uint8Array): KeyPair {
  void suite;
  void externalSecret;
  throw new Error('externalKeyPair: not implemented yet');
}

export interface CreateGroupInfoInput {
  groupContext: GroupContext;
  /** GroupInfo extensions other than external_pub (e.g. ratchet_tree). */
  extensions: Extension[];
  confirmationTag: Uint8Array;
  signer: number;
  signaturePrivateKey: Uint8Array;
  /** When given, an external_pub extension with KEM.DeriveKeyPair(external_secret)'s public key is set. */
  externalSecret?: Uint8Array;
}

/** Build and sign a GroupInfo (optionally advertising external_pub for external commits, §12.4.3.2). */
export function createGroupInfo(suite: CipherSuite, input: CreateGroupInfoInput): GroupInfo {
  void suite;
  void input;
  throw new Error('createGroupInfo: not implemented yet');
}

// ---- GroupInfo encryption (§12.4.3.1) ----------------------------------------------------------------

/** welcome_key / welcome_nonce = ExpandWithLabel(welcome_secret, "key" / "nonce", "", Nk / Nn). */
export function welcomeKeyNonce(suite: CipherSuite, welcomeSecret: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  void suite;
  void welcomeSecret;
  throw new Error('welcomeKeyNonce: not implemented yet');
}

/** AEAD-encrypt a GroupInfo (empty AAD) under the welcome_secret's key and nonce. */
export function encryptGroupInfo(suite: CipherSuite, welcomeSecret: Uint8Array, groupInfo: GroupInfo): Uint8Array {
  void suite;
  void welcomeSecret;
  void groupInfo;
  throw new Error('encryptGroupInfo: not implemented yet');
}

/** Decrypt ('decryptFailed') and decode (CodecError) `Welcome.encrypted_group_info`. Not verified: see verifyGroupInfo. */
export function decryptGroupInfo(
  suite: CipherSuite,
  welcomeSecret: Uint8Array,
  encryptedGroupInfo: Uint8Array,
): GroupInfo {
  void suite;
  void welcomeSecret;
  void encryptedGroupInfo;
  throw new Error('decryptGroupInfo: not implemented yet');
}

// ---- GroupSecrets encryption (§12.4.3.1) --------------------------------------------------------------

/** EncryptWithLabel(init_key, "Welcome", encrypted_group_info, GroupSecrets). */
export function encryptGroupSecrets(
  suite: CipherSuite,
  initKey: Uint8Array,
  encryptedGroupInfo: Uint8Array,
  groupSecrets: GroupSecrets,
): HPKECiphertext {
  void suite;
  void initKey;
  void encryptedGroupInfo;
  void groupSecrets;
  throw new Error('encryptGroupSecrets: not implemented yet');
}

/** DecryptWithLabel(init_key_priv, "Welcome", encrypted_group_info, ...) ('decryptFailed'), decoded. */
export function decryptGroupSecrets(
  suite: CipherSuite,
  initPrivateKey: Uint8Array,
  encryptedGroupInfo: Uint8Array,
  ciphertext: HPKECiphertext,
): GroupSecrets {
  void suite;
  void initPrivateKey;
  void encryptedGroupInfo;
  void ciphertext;
  throw new Error('decryptGroupSecrets: not implemented yet');
}

/** Our entry in `welcome.secrets`, by KeyPackageRef; undefined when the Welcome is not for us. */
export function findGroupSecrets(welcome: Welcome, keyPackageRef: KeyPackageRef): EncryptedGroupSecrets | undefined {
  void welcome;
  void keyPackageRef;
  throw new Error('findGroupSecrets: not implemented yet');
}

// ---- whole Welcome ---------------------------------------------------------------------------------

export interface WelcomeRecipient {
  keyPackageRef: KeyPackageRef;
  initKey: Uint8Array;
  /** The path secret of the lowest common ancestor with the committer, when the commit had a path. */
  pathSecret?: Uint8Array;
}

export interface CreateWelcomeInput {
  groupInfo: GroupInfo;
  welcomeSecret: Uint8Array;
  joinerSecret: Uint8Array;
  psks: GroupSecrets['psks'];
  recipients: readonly WelcomeRecipient[];
}

/** Encrypt the GroupInfo once and the GroupSecrets to each recipient. */
export function createWelcome(suite: CipherSuite, input: CreateWelcomeInput): Welcome {
  void suite;
  void input;
  throw new Error('createWelcome: not implemented yet');
}

/**
 * Find our entry by KeyPackageRef ('notFound') in a Welcome of this suite ('invalid') and
 * decrypt our GroupSecrets. The caller then derives welcome_secret (key schedule, with the
 * PSKs named in the secrets) and calls decryptGroupInfo.
 */
export function openWelcome(
  suite: CipherSuite,
  welcome: Welcome,
  keyPackageRef: KeyPackageRef,
  initPrivateKey: Uint8Array,
): GroupSecrets {
  void suite;
  void welcome;
  void keyPackageRef;
  void initPrivateKey;
  throw new Error('openWelcome: not implemented yet');
}
