/** A new group with its creator as the only member (RFC 9420 §11). */
import { cipherSuiteById, type CipherSuite } from '../crypto';
import { computeEpochSecrets, confirmationTag } from '../key-schedule';
import { RatchetTree } from '../ratchet-tree';
import { ProtocolVersion, type Extension, type GroupContext, type LeafNode } from '../structs';
import { interimTranscriptHash } from '../transcript';
import { treeHash } from '../tree-hash';
import { contextBytes } from './common';
import { keepEpochSecrets } from './epoch';
import { validateLeafNode } from './leaf-validation';
import { DEFAULT_GROUP_OPTIONS, type GroupOptions, type GroupState } from './types';

export interface CreateGroupInput {
  readonly suite: CipherSuite | number;
  readonly groupId: Uint8Array;
  readonly extensions?: readonly Extension[];
  readonly creator: {
    /** The creator's LeafNode (typically its KeyPackage's). */
    readonly leafNode: LeafNode;
    readonly encryptionPrivateKey: Uint8Array;
    readonly signaturePrivateKey: Uint8Array;
  };
  readonly options?: Partial<GroupOptions>;
}

/** Epoch 0: one leaf, random init_secret, zero commit secret, confirmation tag over the empty transcript. */
export function createGroup(input: CreateGroupInput): GroupState {
  const suite = typeof input.suite === 'number' ? cipherSuiteById(input.suite) : input.suite;
  const extensions = [...(input.extensions ?? [])];
  const tree = RatchetTree.single(input.creator.leafNode);
  validateLeafNode(suite, RatchetTree.single(input.creator.leafNode), input.creator.leafNode, {
    groupId: input.groupId,
    leafIndex: 0,
    extensions,
    replacing: 0,
  });
  const context: GroupContext = {
    version: ProtocolVersion.mls10,
    cipherSuite: suite.id,
    groupId: input.groupId,
    epoch: 0n,
    treeHash: treeHash(suite, tree),
    confirmedTranscriptHash: new Uint8Array(0),
    extensions,
  };
  const secrets = computeEpochSecrets(suite, {
    initSecret: suite.randomBytes(suite.hashLength),
    groupContext: contextBytes(context),
  });
  const tag = confirmationTag(suite, secrets.confirmationKey, context.confirmedTranscriptHash);
  const options = { ...DEFAULT_GROUP_OPTIONS, ...input.options };
  return {
    context,
    tree,
    interimTranscriptHash: interimTranscriptHash(suite, context.confirmedTranscriptHash, tag),
    confirmationTag: tag,
    secrets: keepEpochSecrets(secrets),
    privateKeys: new Map([
      [0, { privateKey: input.creator.encryptionPrivateKey, publicKey: input.creator.leafNode.encryptionKey }],
    ]),
    localLeaves: [0],
    pendingLeafKeys: [],
    proposals: [],
    pastEpochs: [],
    resumptionPsks: [{ epoch: 0n, psk: secrets.resumptionPsk }],
    options,
  };
}
