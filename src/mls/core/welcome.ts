/**
 * The cryptography of joining (RFC 9420 §12.4.3): GroupInfo signatures (SignWithLabel
 * "GroupInfoTBS"), GroupInfo encryption under the welcome_secret's key and nonce
 * (§12.4.3.1, `welcomeKeyAndNonce` of key-schedule.ts), GroupSecrets encryption to each new
 * member's init key (EncryptWithLabel "Welcome", context = encrypted_group_info), and finding
 * our entry in a Welcome. What the secrets mean (key schedule, tree, PSKs) is the group state
 * machine's business (`group/`).
 */
import { decodeAll, encodeValue } from '../../codec/tls-codec';
import type { CipherSuite } from './crypto/cipher-suite';
import { decryptWithLabel, encryptWithLabel, signWithLabel, verifyWithLabel } from './crypto/labeled';
import { mlsFail } from './errors';
import { bytesEqual, externalKeyPair, welcomeKeyAndNonce } from './key-schedule';
import {
  externalPubExtension,
  groupInfoCodec,
  groupInfoTbsCodec,
  groupSecretsCodec,
  setExtension,
  type EncryptedGroupSecrets,
  type Extension,
  type GroupContext,
  type GroupInfo,
  type GroupInfoTBS,
  type GroupSecrets,
  type HPKECiphertext,
  type KeyPackageRef,
  type Welcome,
} from './structs';

const EMPTY = new Uint8Array(0);

// ---- GroupInfo signature -------------------------------------------------------------------------

/** SignWithLabel(., "GroupInfoTBS", GroupInfoTBS) by the signer's leaf signature key. */
export function signGroupInfo(suite: CipherSuite, tbs: GroupInfoTBS, signaturePrivateKey: Uint8Array): GroupInfo {
  const { groupContext, extensions, confirmationTag, signer } = tbs;
  const unsigned: GroupInfoTBS = { groupContext, extensions, confirmationTag, signer };
  const signature = signWithLabel(suite, signaturePrivateKey, 'GroupInfoTBS', encodeValue(unsigned, groupInfoTbsCodec));
  return { ...unsigned, signature };
}

/** Throws MlsProtocolError('badSignature') unless `groupInfo` is signed by `signerPublicKey` (leaf `signer`'s key). */
export function verifyGroupInfo(suite: CipherSuite, groupInfo: GroupInfo, signerPublicKey: Uint8Array): void {
  const tbs = encodeValue(groupInfo, groupInfoTbsCodec);
  if (!verifyWithLabel(suite, signerPublicKey, 'GroupInfoTBS', tbs, groupInfo.signature)) {
    mlsFail('badSignature', `GroupInfo signature of leaf ${groupInfo.signer} does not verify`);
  }
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
  let extensions = input.extensions;
  if (input.externalSecret) {
    const externalPub = externalKeyPair(suite, input.externalSecret).publicKey;
    extensions = setExtension(extensions, externalPubExtension, { externalPub });
  }
  const tbs = {
    groupContext: input.groupContext,
    extensions,
    confirmationTag: input.confirmationTag,
    signer: input.signer,
  };
  return signGroupInfo(suite, tbs, input.signaturePrivateKey);
}

// ---- GroupInfo encryption (§12.4.3.1) ----------------------------------------------------------------

/** AEAD-encrypt a GroupInfo (empty AAD) under the welcome_secret's key and nonce. */
export function encryptGroupInfo(suite: CipherSuite, welcomeSecret: Uint8Array, groupInfo: GroupInfo): Uint8Array {
  const { key, nonce } = welcomeKeyAndNonce(suite, welcomeSecret);
  return suite.aeadSeal(key, nonce, EMPTY, encodeValue(groupInfo, groupInfoCodec));
}

/** Decrypt ('decryptFailed') and decode (CodecError) `Welcome.encrypted_group_info`. Not verified: see verifyGroupInfo. */
export function decryptGroupInfo(
  suite: CipherSuite,
  welcomeSecret: Uint8Array,
  encryptedGroupInfo: Uint8Array,
): GroupInfo {
  const { key, nonce } = welcomeKeyAndNonce(suite, welcomeSecret);
  return decodeAll(suite.aeadOpen(key, nonce, EMPTY, encryptedGroupInfo), groupInfoCodec);
}

// ---- GroupSecrets encryption (§12.4.3.1) --------------------------------------------------------------

/** EncryptWithLabel(init_key, "Welcome", encrypted_group_info, GroupSecrets). */
function encryptGroupSecrets(
  suite: CipherSuite,
  initKey: Uint8Array,
  encryptedGroupInfo: Uint8Array,
  groupSecrets: GroupSecrets,
): HPKECiphertext {
  const plaintext = encodeValue(groupSecrets, groupSecretsCodec);
  return encryptWithLabel(suite, initKey, 'Welcome', encryptedGroupInfo, plaintext);
}

/** DecryptWithLabel(init_key_priv, "Welcome", encrypted_group_info, ...) ('decryptFailed'), decoded. */
export function decryptGroupSecrets(
  suite: CipherSuite,
  initPrivateKey: Uint8Array,
  encryptedGroupInfo: Uint8Array,
  ciphertext: HPKECiphertext,
): GroupSecrets {
  const plaintext = decryptWithLabel(
    suite,
    initPrivateKey,
    'Welcome',
    encryptedGroupInfo,
    ciphertext.kemOutput,
    ciphertext.ciphertext,
  );
  return decodeAll(plaintext, groupSecretsCodec);
}

/** Our entry in `welcome.secrets`, by KeyPackageRef; undefined when the Welcome is not for us. */
export function findGroupSecrets(welcome: Welcome, keyPackageRef: KeyPackageRef): EncryptedGroupSecrets | undefined {
  return welcome.secrets.find((s) => bytesEqual(s.newMember, keyPackageRef));
}

// ---- whole Welcome ---------------------------------------------------------------------------------

interface WelcomeRecipient {
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
  const encryptedGroupInfo = encryptGroupInfo(suite, input.welcomeSecret, input.groupInfo);
  const secrets = input.recipients.map((r): EncryptedGroupSecrets => {
    const groupSecrets: GroupSecrets = { joinerSecret: input.joinerSecret, psks: input.psks };
    if (r.pathSecret) groupSecrets.pathSecret = { pathSecret: r.pathSecret };
    return {
      newMember: r.keyPackageRef,
      encryptedGroupSecrets: encryptGroupSecrets(suite, r.initKey, encryptedGroupInfo, groupSecrets),
    };
  });
  return { cipherSuite: suite.id, secrets, encryptedGroupInfo };
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
  if (welcome.cipherSuite !== suite.id) {
    mlsFail('invalid', `Welcome of cipher suite ${welcome.cipherSuite}, expected ${suite.id}`);
  }
  const entry =
    findGroupSecrets(welcome, keyPackageRef) ?? mlsFail('notFound', 'the Welcome has no secrets for our KeyPackage');
  return decryptGroupSecrets(suite, initPrivateKey, welcome.encryptedGroupInfo, entry.encryptedGroupSecrets);
}
