/**
 * Joining from a Welcome (RFC 9420 §12.4.3.1), and — for the gateway — registering another
 * local member in a group already held, from the Welcome that added it.
 */
import { encodeValue } from '../../../codec/tls-codec';
import { cipherSuiteById, makeKeyPackageRef, type CipherSuite, type KeyPair } from '../crypto';
import { mlsFail } from '../errors';
import { epochSecretsFromJoiner, verifyConfirmationTag } from '../key-schedule';
import { computePskSecret } from '../psk';
import { RatchetTree } from '../ratchet-tree';
import {
  findExtension,
  keyPackageCodec,
  leafNodeCodec,
  PSKType,
  ratchetTreeExtension,
  WireFormat,
  type GroupInfo,
  type GroupSecrets,
  type KeyPackage,
  type MLSMessage,
  type Node,
  type Welcome,
} from '../structs';
import { interimTranscriptHash } from '../transcript';
import { joinerPathKeys } from '../treekem';
import { validateRatchetTree } from '../tree-validation';
import { decryptGroupInfo, openWelcome, verifyGroupInfo } from '../welcome';
import { contextBytes } from './common';
import { unsupportedContextExtension } from './leaf-validation';
import { keepEpochSecrets } from './epoch';
import { bytesEqual, hexOf } from './proposal-list';
import { DEFAULT_GROUP_OPTIONS, type ExternalPskLookup, type GroupOptions, type GroupState } from './types';

export interface JoinerKeys {
  readonly keyPackage: KeyPackage;
  readonly initPrivateKey: Uint8Array;
  readonly encryptionPrivateKey: Uint8Array;
  /** Only for `checkKeys`: the member signs with it later, the group state never holds it. */
  readonly signaturePrivateKey?: Uint8Array;
}

export interface JoinOptions {
  /** The tree when the GroupInfo has no ratchet_tree extension. */
  readonly ratchetTree?: RatchetTree | readonly (Node | undefined)[];
  readonly externalPsks?: ExternalPskLookup;
  readonly options?: Partial<GroupOptions>;
  /**
   * Check first that the private keys are those of the KeyPackage (init and leaf HPKE keys by a
   * seal/open round trip, the signature key when given): a cheap guard against mixed-up stored
   * keys, which would otherwise surface as a failed decryption much later.
   */
  readonly checkKeys?: boolean;
}

export interface Joined {
  readonly state: GroupState;
  readonly leafIndex: number;
}

interface OpenedWelcome {
  readonly suite: CipherSuite;
  readonly secrets: GroupSecrets;
  readonly groupInfo: GroupInfo;
  readonly pskSecret: Uint8Array;
}

function welcomeOf(welcome: Welcome | MLSMessage): Welcome {
  if (!('wireFormat' in welcome)) return welcome;
  if (welcome.wireFormat !== WireFormat.mls_welcome) {
    mlsFail('invalid', `wire format ${welcome.wireFormat} is not a Welcome`);
  }
  return welcome.welcome;
}

function open(welcomeIn: Welcome | MLSMessage, keys: JoinerKeys, externalPsks?: ExternalPskLookup): OpenedWelcome {
  const welcome = welcomeOf(welcomeIn);
  const suite = cipherSuiteById(welcome.cipherSuite);
  if (keys.keyPackage.cipherSuite !== welcome.cipherSuite) {
    mlsFail('invalid', 'Welcome and KeyPackage cipher suites differ');
  }
  const ref = makeKeyPackageRef(suite, encodeValue(keys.keyPackage, keyPackageCodec));
  const secrets = openWelcome(suite, welcome, ref, keys.initPrivateKey);
  const psks = secrets.psks.map((id) => {
    if (id.pskType !== PSKType.external) {
      return mlsFail('unsupported', 'resumption PSKs in a Welcome are not supported');
    }
    const psk = externalPsks?.(id.pskId) ?? mlsFail('notFound', `external PSK ${hexOf(id.pskId)} is not available`);
    return { id, psk };
  });
  const pskSecret = computePskSecret(suite, psks);
  const { welcomeSecret } = epochSecretsFromJoiner(suite, secrets.joinerSecret, new Uint8Array(0), pskSecret);
  const groupInfo = decryptGroupInfo(suite, welcomeSecret, welcome.encryptedGroupInfo);
  if (groupInfo.groupContext.cipherSuite !== welcome.cipherSuite) mlsFail('invalid', 'GroupInfo cipher suite differs');
  return { suite, secrets, groupInfo, pskSecret };
}

function treeOf(groupInfo: GroupInfo, given: JoinOptions['ratchetTree']): RatchetTree {
  const inInfo = findExtension(groupInfo.extensions, ratchetTreeExtension);
  if (inInfo) return RatchetTree.fromNodes(inInfo);
  if (given instanceof RatchetTree) return given.clone();
  if (given) return RatchetTree.fromNodes(given);
  return mlsFail('notFound', 'no ratchet tree: neither in the GroupInfo nor given');
}

/** The joiner's leaf: the one whose LeafNode is the KeyPackage's (§12.4.3.1). */
function findOwnLeaf(tree: RatchetTree, keyPackage: KeyPackage): number {
  const leaf = tree.findLeafBySignatureKey(keyPackage.leafNode.signatureKey);
  const node = leaf === undefined ? undefined : tree.leafNode(leaf);
  if (
    leaf === undefined ||
    !node ||
    !bytesEqual(encodeValue(node, leafNodeCodec), encodeValue(keyPackage.leafNode, leafNodeCodec))
  ) {
    return mlsFail('notFound', 'the KeyPackage leaf is not in the tree');
  }
  return leaf;
}

function ownKeys(
  suite: CipherSuite,
  tree: RatchetTree,
  opened: OpenedWelcome,
  leaf: number,
  keys: JoinerKeys,
): Map<number, KeyPair> {
  const out = new Map<number, KeyPair>([
    [2 * leaf, { privateKey: keys.encryptionPrivateKey, publicKey: keys.keyPackage.leafNode.encryptionKey }],
  ]);
  const pathSecret = opened.secrets.pathSecret?.pathSecret;
  if (pathSecret) {
    for (const [x, kp] of joinerPathKeys(suite, tree, opened.groupInfo.signer, leaf, pathSecret).privateKeys) {
      out.set(x, kp);
    }
  }
  return out;
}

/** Throws 'invalid' unless the private keys belong to the KeyPackage's public keys. */
export function checkJoinerKeys(keys: JoinerKeys): void {
  const suite = cipherSuiteById(keys.keyPackage.cipherSuite);
  const probe = suite.randomBytes(16);
  const empty = new Uint8Array(0);
  const pairs: [string, Uint8Array, Uint8Array][] = [
    ['init', keys.keyPackage.initKey, keys.initPrivateKey],
    ['leaf encryption', keys.keyPackage.leafNode.encryptionKey, keys.encryptionPrivateKey],
  ];
  for (const [what, pub, priv] of pairs) {
    const sealed = suite.hpkeSeal(pub, empty, empty, probe);
    let opened: Uint8Array | undefined;
    try {
      opened = suite.hpkeOpen(priv, sealed.kemOutput, empty, empty, sealed.ciphertext);
    } catch {
      opened = undefined;
    }
    if (!opened || !bytesEqual(opened, probe)) mlsFail('invalid', `the ${what} private key is not the KeyPackage's`);
  }
  if (keys.signaturePrivateKey) {
    const sig = suite.sign(keys.signaturePrivateKey, probe);
    if (!suite.verify(keys.keyPackage.leafNode.signatureKey, probe, sig)) {
      mlsFail('invalid', "the signature private key is not the KeyPackage's");
    }
  }
}

/** Join a group from a Welcome: full §12.4.3.1 validation, then the state of the new epoch. */
export function joinFromWelcome(welcome: Welcome | MLSMessage, keys: JoinerKeys, options: JoinOptions = {}): Joined {
  if (options.checkKeys) checkJoinerKeys(keys);
  const opened = open(welcome, keys, options.externalPsks);
  const { suite, groupInfo } = opened;
  const tree = treeOf(groupInfo, options.ratchetTree);
  const signerLeaf =
    tree.leafNode(groupInfo.signer) ?? mlsFail('invalid', `GroupInfo signer ${groupInfo.signer} is blank`);
  verifyGroupInfo(suite, groupInfo, signerLeaf.signatureKey);
  const context = groupInfo.groupContext;
  validateRatchetTree(suite, tree, { groupId: context.groupId, treeHash: context.treeHash });
  const leaf = findOwnLeaf(tree, keys.keyPackage);
  const missing = unsupportedContextExtension(keys.keyPackage.leafNode.capabilities.extensions, context.extensions);
  if (missing !== undefined) {
    mlsFail('invalid', `the group uses extension ${missing}, which our KeyPackage does not support`);
  }
  const privateKeys = ownKeys(suite, tree, opened, leaf, keys);
  const secrets = epochSecretsFromJoiner(suite, opened.secrets.joinerSecret, contextBytes(context), opened.pskSecret);
  if (
    !verifyConfirmationTag(suite, secrets.confirmationKey, context.confirmedTranscriptHash, groupInfo.confirmationTag)
  ) {
    mlsFail('badTag', 'GroupInfo confirmation tag does not verify');
  }
  const state: GroupState = {
    context,
    tree,
    interimTranscriptHash: interimTranscriptHash(suite, context.confirmedTranscriptHash, groupInfo.confirmationTag),
    confirmationTag: groupInfo.confirmationTag,
    secrets: keepEpochSecrets(secrets),
    privateKeys,
    localLeaves: [leaf],
    pendingLeafKeys: [],
    proposals: [],
    pastEpochs: [],
    resumptionPsks: [{ epoch: context.epoch, psk: secrets.resumptionPsk }],
    options: { ...DEFAULT_GROUP_OPTIONS, ...options.options },
  };
  return { state, leafIndex: leaf };
}

/**
 * Register another local member, added by a commit the gateway already processed (or made), from
 * its Welcome: the Welcome must describe exactly the held epoch (GroupContext, confirmation tag,
 * epoch authenticator); the member's leaf key and path keys join the shared PrivateTreeKeys.
 */
export function addLocalMemberFromWelcome(
  state: GroupState,
  welcome: Welcome | MLSMessage,
  keys: JoinerKeys,
  options: Pick<JoinOptions, 'externalPsks'> = {},
): Joined {
  const opened = open(welcome, keys, options.externalPsks);
  const { suite, groupInfo } = opened;
  if (!bytesEqual(contextBytes(groupInfo.groupContext), contextBytes(state.context))) {
    mlsFail('invalid', 'the Welcome is for another epoch or view of the group');
  }
  if (!bytesEqual(groupInfo.confirmationTag, state.confirmationTag)) {
    mlsFail('invalid', 'Welcome confirmation tag differs');
  }
  const signerLeaf = state.tree.leafNode(groupInfo.signer) ?? mlsFail('invalid', 'GroupInfo signer is blank');
  verifyGroupInfo(suite, groupInfo, signerLeaf.signatureKey);
  const secrets = epochSecretsFromJoiner(
    suite,
    opened.secrets.joinerSecret,
    contextBytes(state.context),
    opened.pskSecret,
  );
  if (!bytesEqual(secrets.epochAuthenticator, state.secrets.epochAuthenticator)) {
    mlsFail('invalid', 'the Welcome derives another epoch than the one held');
  }
  const leaf = findOwnLeaf(state.tree, keys.keyPackage);
  const privateKeys = new Map(state.privateKeys);
  for (const [x, kp] of ownKeys(suite, state.tree, opened, leaf, keys)) privateKeys.set(x, kp);
  const localLeaves = [...new Set([...state.localLeaves, leaf])].sort((a, b) => a - b);
  return { state: { ...state, privateKeys, localLeaves }, leafIndex: leaf };
}
