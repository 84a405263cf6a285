/**
 * External commits (RFC 9420 §12.4.3.2): a non-member joins (or resyncs) from a GroupInfo with
 * an `external_pub` extension (an HPKEPublicKey, i.e. with its length prefix). Receiving one is
 * `processCommit` (sender `new_member_commit`).
 */
import { cipherSuiteById } from '../crypto';
import { mlsFail } from '../errors';
import { externalInitSend } from '../key-schedule';
import { RatchetTree } from '../ratchet-tree';
import {
  externalPubExtension,
  findExtension,
  ProposalOrRefType,
  ratchetTreeExtension,
  SenderType,
  WireFormat,
  type GroupInfo,
  type MLSMessage,
  type Node,
  type Proposal,
  type Sender,
} from '../structs';
import { interimTranscriptHash } from '../transcript';
import type { CommitLeafFields } from '../treekem';
import { validateRatchetTree } from '../tree-validation';
import { verifyGroupInfo } from '../welcome';
import { buildCommit, type CreateCommitOptions, type CreatedCommit } from './commit';
import { propose } from './proposals';
import { DEFAULT_GROUP_OPTIONS, type GroupOptions, type GroupState } from './types';

export interface ExternalJoiner {
  /** The joiner's LeafNode fields (its encryption key is made here). */
  readonly leafFields: CommitLeafFields;
  readonly signaturePrivateKey: Uint8Array;
}

export interface ExternalCommitOptions extends Omit<
  CreateCommitOptions,
  'committer' | 'proposals' | 'proposalRefs' | 'forcePath' | 'leafFields'
> {
  /** More proposals by value, e.g. the joiner's own AppDataUpdate or external PSKs. */
  readonly extraProposals?: readonly Proposal[];
  /** Resync: the leaf of the joiner's previous appearance, removed by the same commit. */
  readonly resyncRemoveLeaf?: number;
  /** The tree when the GroupInfo has no ratchet_tree extension. */
  readonly ratchetTree?: RatchetTree | readonly (Node | undefined)[];
  readonly groupOptions?: Partial<GroupOptions>;
}

function groupInfoOf(g: GroupInfo | MLSMessage): GroupInfo {
  if (!('wireFormat' in g)) return g;
  if (g.wireFormat !== WireFormat.mls_group_info) mlsFail('invalid', `wire format ${g.wireFormat} is not a GroupInfo`);
  return g.groupInfo;
}

/** Join by external commit: the commit to send and the joiner's state in the new epoch. */
export function joinByExternalCommit(
  groupInfoIn: GroupInfo | MLSMessage,
  joiner: ExternalJoiner,
  options: ExternalCommitOptions = {},
): CreatedCommit & { leafIndex: number } {
  const info = groupInfoOf(groupInfoIn);
  const context = info.groupContext;
  const suite = cipherSuiteById(context.cipherSuite);
  const inInfo = findExtension(info.extensions, ratchetTreeExtension);
  const given = options.ratchetTree;
  const tree = inInfo
    ? RatchetTree.fromNodes(inInfo)
    : given instanceof RatchetTree
      ? given.clone()
      : given
        ? RatchetTree.fromNodes(given)
        : mlsFail('notFound', 'no ratchet tree for the external commit');
  const signer = tree.leafNode(info.signer) ?? mlsFail('invalid', `GroupInfo signer ${info.signer} is blank`);
  verifyGroupInfo(suite, info, signer.signatureKey);
  validateRatchetTree(suite, tree, { groupId: context.groupId, treeHash: context.treeHash });
  const externalPub =
    findExtension(info.extensions, externalPubExtension)?.externalPub ??
    mlsFail('notFound', 'GroupInfo has no external_pub extension');
  const { kemOutput, initSecret } = externalInitSend(suite, externalPub);

  // The epoch as the joiner sees it: public parts only; no secrets are known or needed.
  const none = new Uint8Array(0);
  const base: GroupState = {
    context,
    tree,
    interimTranscriptHash: interimTranscriptHash(suite, context.confirmedTranscriptHash, info.confirmationTag),
    confirmationTag: info.confirmationTag,
    secrets: {
      senderDataSecret: none,
      encryptionSecret: none,
      exporterSecret: none,
      externalSecret: none,
      confirmationKey: none,
      membershipKey: none,
      resumptionPsk: none,
      epochAuthenticator: none,
      initSecret,
    },
    privateKeys: new Map(),
    localLeaves: [],
    pendingLeafKeys: [],
    proposals: [],
    pastEpochs: [],
    resumptionPsks: [],
    options: { ...DEFAULT_GROUP_OPTIONS, ...options.groupOptions },
  };
  const sender: Sender = { senderType: SenderType.new_member_commit };
  const proposals: Proposal[] = [propose.externalInit(kemOutput)];
  if (options.resyncRemoveLeaf !== undefined) proposals.push(propose.remove(options.resyncRemoveLeaf));
  proposals.push(...(options.extraProposals ?? []));
  const created = buildCommit(base, {
    sender,
    signaturePrivateKey: joiner.signaturePrivateKey,
    proposals: proposals.map((proposal) => ({ proposal, sender })),
    proposalOrRefs: proposals.map((proposal) => ({ type: ProposalOrRefType.proposal, proposal })),
    initSecret,
    joinerLeafFields: joiner.leafFields,
    options,
  });
  return { ...created, state: { ...created.state, pastEpochs: [] }, leafIndex: created.effects.committerLeaf };
}
