/**
 * RFC 9420 §12.4.3 joining structs: GroupInfo and GroupInfoTBS, PathSecret, GroupSecrets,
 * EncryptedGroupSecrets and Welcome, and the §5.2 KeyPackageRef.
 */
import {
  codec,
  opaque,
  optionalOf,
  uint32,
  vectorOf,
  type Codec,
  type TlsReader,
  type TlsWriter,
} from '../../../codec/tls-codec';
import {
  cipherSuiteCodec,
  extensionsCodec,
  hashReferenceCodec,
  hpkeCiphertextCodec,
  macCodec,
  signedCodec,
  type CipherSuite,
  type Extension,
  type HPKECiphertext,
} from './basics';
import { groupContextCodec, type GroupContext } from './group-context';
import { preSharedKeyIdCodec, type PreSharedKeyID } from './proposals';

/** §5.2 `HashReference KeyPackageRef`. */
export type KeyPackageRef = Uint8Array;
const keyPackageRefCodec = codec<KeyPackageRef>('KeyPackageRef', hashReferenceCodec.encode, hashReferenceCodec.decode);

// ---- GroupInfo -------------------------------------------------------------------------------------

/** §12.4.3 GroupInfoTBS. */
export interface GroupInfoTBS {
  groupContext: GroupContext;
  extensions: Extension[];
  confirmationTag: Uint8Array;
  /** Leaf index of the signer. */
  signer: number;
}
/** §12.4.3 GroupInfo. */
export interface GroupInfo extends GroupInfoTBS {
  signature: Uint8Array;
}

function encodeGroupInfoTbs(w: TlsWriter, v: GroupInfoTBS): void {
  w.field('group_context', groupContextCodec, v.groupContext);
  w.field('extensions', extensionsCodec, v.extensions);
  w.field('confirmation_tag', macCodec, v.confirmationTag);
  w.field('signer', uint32, v.signer);
}
function decodeGroupInfoTbs(r: TlsReader): GroupInfoTBS {
  return {
    groupContext: r.field('group_context', groupContextCodec),
    extensions: r.field('extensions', extensionsCodec),
    confirmationTag: r.field('confirmation_tag', macCodec),
    signer: r.field('signer', uint32),
  };
}
/** Encodes only the TBS fields of the value given (a whole GroupInfo's signature is left out). */
export const groupInfoTbsCodec = codec<GroupInfoTBS>('GroupInfoTBS', encodeGroupInfoTbs, decodeGroupInfoTbs);
export const groupInfoCodec: Codec<GroupInfo> = signedCodec('GroupInfo', groupInfoTbsCodec);

// ---- GroupSecrets ----------------------------------------------------------------------------------

/** §12.4.3.1 PathSecret. */
interface PathSecret {
  pathSecret: Uint8Array;
}
const pathSecretCodec = codec<PathSecret>(
  'PathSecret',
  (w, v) => w.field('path_secret', opaque, v.pathSecret),
  (r) => ({ pathSecret: r.field('path_secret', opaque) }),
);

/** §12.4.3.1 GroupSecrets. */
export interface GroupSecrets {
  joinerSecret: Uint8Array;
  pathSecret?: PathSecret;
  psks: PreSharedKeyID[];
}
const optionalPathSecretCodec = optionalOf(pathSecretCodec);
const pskIdsCodec = vectorOf(preSharedKeyIdCodec);
export const groupSecretsCodec = codec<GroupSecrets>(
  'GroupSecrets',
  (w, v) => {
    w.field('joiner_secret', opaque, v.joinerSecret);
    w.field('path_secret', optionalPathSecretCodec, v.pathSecret);
    w.field('psks', pskIdsCodec, v.psks);
  },
  (r) => {
    const joinerSecret = r.field('joiner_secret', opaque);
    const pathSecret = r.field('path_secret', optionalPathSecretCodec);
    const psks = r.field('psks', pskIdsCodec);
    return pathSecret === undefined ? { joinerSecret, psks } : { joinerSecret, pathSecret, psks };
  },
);

// ---- Welcome ---------------------------------------------------------------------------------------

/** §12.4.3.1 EncryptedGroupSecrets. */
export interface EncryptedGroupSecrets {
  newMember: KeyPackageRef;
  encryptedGroupSecrets: HPKECiphertext;
}
const encryptedGroupSecretsCodec = codec<EncryptedGroupSecrets>(
  'EncryptedGroupSecrets',
  (w, v) => {
    w.field('new_member', keyPackageRefCodec, v.newMember);
    w.field('encrypted_group_secrets', hpkeCiphertextCodec, v.encryptedGroupSecrets);
  },
  (r) => ({
    newMember: r.field('new_member', keyPackageRefCodec),
    encryptedGroupSecrets: r.field('encrypted_group_secrets', hpkeCiphertextCodec),
  }),
);

/** §12.4.3.1 Welcome. `encryptedGroupInfo` is the AEAD ciphertext of a GroupInfo. */
export interface Welcome {
  cipherSuite: CipherSuite;
  secrets: EncryptedGroupSecrets[];
  encryptedGroupInfo: Uint8Array;
}
const encryptedGroupSecretsListCodec = vectorOf(encryptedGroupSecretsCodec);
export const welcomeCodec = codec<Welcome>(
  'Welcome',
  (w, v) => {
    w.field('cipher_suite', cipherSuiteCodec, v.cipherSuite);
    w.field('secrets', encryptedGroupSecretsListCodec, v.secrets);
    w.field('encrypted_group_info', opaque, v.encryptedGroupInfo);
  },
  (r) => ({
    cipherSuite: r.field('cipher_suite', cipherSuiteCodec),
    secrets: r.field('secrets', encryptedGroupSecretsListCodec),
    encryptedGroupInfo: r.field('encrypted_group_info', opaque),
  }),
);
