/**
 * External commits (RFC 9420 §12.4.3.2): a non-member joins (or resyncs) from a GroupInfo with
 * an `external_pub` extension (an HPKEPublicKey, i.e. with its length prefix). Receiving one is
 * `processCommit` (sender `new_member_commit`).
 */
import { cipherSuiteById, makeProposalRef } from '../crypto';
import { authenticatedContentBytes, verifyContentSignature } from '../framing';
import { mlsFail } from '../errors';
import { externalInitSend } from '../key-schedule';
import { RatchetTree } from '../ratchet-tree';
import {
  ContentType,
  externalPubExtension,
  findExtension,
  ProposalOrRefType,
  ProposalType,
  ratchetTreeExtension,
  SenderType,
  WireFormat,
  type GroupInfo,
  type MLSMessage,
  type Node,
  type Proposal,
  type PublicMessage,
  type Sender,
} from '../structs';
import { interimTranscriptHash } from '../transcript';
import type { CommitLeafFields } from '../treekem';
import { validateRatchetTree } from '../tree-validation';
import { verifyGroupInfo } from '../welcome';
import { buildCommit, type CreateCommitOptions, type CreatedCommit } from './commit';
import { contextBytes } from './common';
import { checkEpoch, propose, publicMessageOf } from './proposals';
import { DEFAULT_GROUP_OPTIONS, type CommittedProposal, type GroupOptions, type GroupState } from './types';

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
  /**
   * Pending SelfRemove proposals (PublicMessages of the GroupInfo's epoch) to include by
   * reference (extensions-09): each is checked as far as a non-member can (sender leaf,
   * signature; not the membership tag).
   */
  readonly selfRemoves?: readonly (MLSMessage | PublicMessage)[];
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
  const selfRemoves = (options.selfRemoves ?? []).map((m) => checkSelfRemove(base, m));
  const created = buildCommit(base, {
    sender,
    signaturePrivateKey: joiner.signaturePrivateKey,
    proposals: [...selfRemoves, ...proposals.map((proposal) => ({ proposal, sender }))],
    proposalOrRefs: [
      ...selfRemoves.map((p) => ({ type: ProposalOrRefType.reference, reference: p.ref }) as const),
      ...proposals.map((proposal) => ({ type: ProposalOrRefType.proposal, proposal }) as const),
    ],
    initSecret,
    joinerLeafFields: joiner.leafFields,
    options,
  });
  return { ...created, state: { ...created.state, pastEpochs: [] }, leafIndex: created.effects.committerLeaf };
}

/** A pending SelfRemove as a non-member can check it: right epoch, member sender, signature. */
function checkSelfRemove(
  state: GroupState,
  message: MLSMessage | PublicMessage,
): CommittedProposal & { ref: Uint8Array } {
  const pub = 'wireFormat' in message ? publicMessageOf(message) : message;
  const suite = cipherSuiteById(state.context.cipherSuite);
  checkEpoch(state, pub.content.groupId, pub.content.epoch);
  const { content } = pub;
  if (content.contentType !== ContentType.proposal || content.proposal.proposalType !== ProposalType.self_remove) {
    return mlsFail('invalid', 'not a SelfRemove proposal');
  }
  if (content.sender.senderType !== SenderType.member) return mlsFail('invalid', 'SelfRemove from a non-member');
  const key =
    state.tree.leafNode(content.sender.leafIndex)?.signatureKey ??
    mlsFail('invalid', `SelfRemove from blank leaf ${content.sender.leafIndex}`);
  const ac = { wireFormat: WireFormat.mls_public_message, content, auth: pub.auth } as const;
  verifyContentSignature(suite, ac, key, contextBytes(state.context));
  return {
    proposal: content.proposal,
    sender: content.sender,
    ref: makeProposalRef(suite, authenticatedContentBytes(ac)),
  };
}
