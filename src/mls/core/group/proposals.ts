/**
 * Proposals: builders for the types MIMI uses, proposal messages (PublicMessage from a member or
 * from an external sender, §12.1.8) and the epoch's proposal cache keyed by ProposalRef.
 */
import { encodeValue } from '../../../codec/tls-codec';
import { makeProposalRef, signWithLabel, type CipherSuite } from '../crypto';
import { mlsFail } from '../errors';
import {
  authenticatedContentBytes,
  encodeMlsMessage,
  fromPublicMessage,
  signContent,
  toPublicMessage,
} from '../framing';
import {
  AppDataUpdateOperation,
  ContentType,
  isCustomProposal,
  leafNodeTbsCodec,
  LeafNodeSource,
  ProposalType,
  PSKType,
  ResumptionPSKUsage,
  SenderType,
  WireFormat,
  type Extension,
  type KeyPackage,
  type LeafNode,
  type LeafNodeData,
  type MLSMessage,
  type Proposal,
  type ProposalRef,
  type PublicMessage,
  type Sender,
} from '../structs';
import type { SecretTree } from '../secret-tree';
import type { CommitLeafFields } from '../treekem';
import { unprotect } from './messages';
import { contextBytes, frameHandshake, handshakeWireFormat, signatureKeys, signInGroup, suiteOf } from './common';
import { bytesEqual, leafAt, senderMayPropose } from './proposal-list';
import type { CachedProposal, GroupState, LocalSigner } from './types';

// ---- builders -------------------------------------------------------------------------------------

export const propose = {
  add: (keyPackage: KeyPackage): Proposal => ({ proposalType: ProposalType.add, add: { keyPackage } }),
  update: (leafNode: LeafNode): Proposal => ({ proposalType: ProposalType.update, update: { leafNode } }),
  remove: (leafIndex: number): Proposal => ({ proposalType: ProposalType.remove, remove: { removed: leafIndex } }),
  /** An external PSK with a fresh nonce of KDF.Nh bytes. */
  externalPsk: (suite: CipherSuite, pskId: Uint8Array): Proposal => ({
    proposalType: ProposalType.psk,
    preSharedKey: { psk: { pskType: PSKType.external, pskId, pskNonce: suite.randomBytes(suite.hashLength) } },
  }),
  /** A resumption PSK (usage application) of an earlier epoch of this group, fresh nonce. */
  resumptionPsk: (suite: CipherSuite, groupId: Uint8Array, epoch: bigint): Proposal => ({
    proposalType: ProposalType.psk,
    preSharedKey: {
      psk: {
        pskType: PSKType.resumption,
        usage: ResumptionPSKUsage.application,
        pskGroupId: groupId,
        pskEpoch: epoch,
        pskNonce: suite.randomBytes(suite.hashLength),
      },
    },
  }),
  groupContextExtensions: (extensions: Extension[]): Proposal => ({
    proposalType: ProposalType.group_context_extensions,
    groupContextExtensions: { extensions },
  }),
  appDataUpdate: (componentId: number, update: Uint8Array): Proposal => ({
    proposalType: ProposalType.app_data_update,
    appDataUpdate: { componentId, op: AppDataUpdateOperation.update, update },
  }),
  appDataRemove: (componentId: number): Proposal => ({
    proposalType: ProposalType.app_data_update,
    appDataUpdate: { componentId, op: AppDataUpdateOperation.remove },
  }),
  selfRemove: (): Proposal => ({ proposalType: ProposalType.self_remove, selfRemove: {} }),
  externalInit: (kemOutput: Uint8Array): Proposal => ({
    proposalType: ProposalType.external_init,
    externalInit: { kemOutput },
  }),
};

// ---- cache --------------------------------------------------------------------------------------------

/** The state with `entry` in its proposal cache (a proposal already cached is not added twice). */
function cacheProposal(state: GroupState, entry: CachedProposal): GroupState {
  if (state.proposals.some((p) => bytesEqual(p.ref, entry.ref))) return state;
  return { ...state, proposals: [...state.proposals, entry] };
}

export function findCachedProposal(state: GroupState, ref: ProposalRef): CachedProposal | undefined {
  return state.proposals.find((p) => bytesEqual(p.ref, ref));
}

// ---- sending --------------------------------------------------------------------------------------------

export interface ProposalMessage {
  /** Serialized MLSMessage (PublicMessage). */
  readonly message: Uint8Array;
  readonly ref: ProposalRef;
  /** `state` with the proposal in its cache (the sender must be able to commit its own proposal). */
  readonly state: GroupState;
}

/** A proposal sent by local member `signer` as a PublicMessage. */
export function proposalMessage(
  state: GroupState,
  signer: LocalSigner,
  proposal: Proposal,
  options: { authenticatedData?: Uint8Array; privateWith?: SecretTree } = {},
): ProposalMessage {
  const suite = suiteOf(state);
  const sender: Sender = { senderType: SenderType.member, leafIndex: signer.leafIndex };
  if (!leafAt(state.tree, signer.leafIndex)) mlsFail('notFound', `leaf ${signer.leafIndex} is blank`);
  if (!senderMayPropose(proposal.proposalType, sender)) {
    mlsFail('invalid', `members cannot send ${proposal.proposalType}`);
  }
  if (options.privateWith && proposal.proposalType === ProposalType.self_remove) {
    mlsFail('invalid', 'SelfRemove must be sent as a PublicMessage');
  }
  const ac = signInGroup(
    state,
    handshakeWireFormat(options.privateWith),
    sender,
    { contentType: ContentType.proposal, proposal },
    signer.signaturePrivateKey,
    options.authenticatedData,
  );
  const ref = makeProposalRef(suite, authenticatedContentBytes(ac));
  return {
    message: frameHandshake(state, ac, options.privateWith),
    ref,
    state: cacheProposal(state, { ref, proposal, sender }),
  };
}

/**
 * A proposal from external sender `senderIndex` (an index into the group's external_senders),
 * signed with that sender's key. Needs only the group id and epoch: no membership tag, no context.
 */
export function externalProposalMessage(
  suite: CipherSuite,
  target: { groupId: Uint8Array; epoch: bigint },
  senderIndex: number,
  signaturePrivateKey: Uint8Array,
  proposal: Proposal,
): Uint8Array {
  const sender: Sender = { senderType: SenderType.external, senderIndex };
  if (!senderMayPropose(proposal.proposalType, sender)) {
    mlsFail('invalid', `external senders cannot send ${proposal.proposalType}`);
  }
  const ac = signContent(suite, {
    wireFormat: WireFormat.mls_public_message,
    content: {
      groupId: target.groupId,
      epoch: target.epoch,
      sender,
      authenticatedData: new Uint8Array(0),
      contentType: ContentType.proposal,
      proposal,
    },
    signaturePrivateKey,
  });
  const pub = toPublicMessage(suite, ac, {});
  return encodeMlsMessage({ wireFormat: WireFormat.mls_public_message, publicMessage: pub });
}

/**
 * An Update proposal from local member `signer`: a fresh leaf key pair, a LeafNode (source
 * `update`, signed with group_id and leaf_index), sent as a PublicMessage. The new private key
 * waits in `pendingLeafKeys` and becomes the leaf's key if a commit applies the Update.
 */
export function proposeUpdate(
  state: GroupState,
  signer: LocalSigner,
  options: { leafFields?: Partial<CommitLeafFields>; authenticatedData?: Uint8Array; privateWith?: SecretTree } = {},
): ProposalMessage {
  const suite = suiteOf(state);
  const current = leafAt(state.tree, signer.leafIndex) ?? mlsFail('notFound', `leaf ${signer.leafIndex} is blank`);
  const keys = suite.hpkeGenerateKeyPair();
  const data: LeafNodeData = {
    encryptionKey: keys.publicKey,
    signatureKey: options.leafFields?.signatureKey ?? current.signatureKey,
    credential: options.leafFields?.credential ?? current.credential,
    capabilities: options.leafFields?.capabilities ?? current.capabilities,
    leafNodeSource: LeafNodeSource.update,
    extensions: options.leafFields?.extensions ?? current.extensions,
  };
  const tbs = encodeValue(
    { leafNode: data, binding: { groupId: state.context.groupId, leafIndex: signer.leafIndex } },
    leafNodeTbsCodec,
  );
  const leafNode: LeafNode = {
    ...data,
    signature: signWithLabel(suite, signer.signaturePrivateKey, 'LeafNodeTBS', tbs),
  };
  const sent = proposalMessage(state, signer, propose.update(leafNode), options);
  return { ...sent, state: { ...sent.state, pendingLeafKeys: [...sent.state.pendingLeafKeys, keys] } };
}

// ---- receiving -----------------------------------------------------------------------------------------

export interface ReceivedProposal {
  readonly state: GroupState;
  readonly ref: ProposalRef;
  readonly proposal: Proposal;
  readonly sender: Sender;
}

/**
 * Verify a proposal of the current epoch (PublicMessage: membership tag, signature, sender rules;
 * PrivateMessage: decrypted with `epochKeys`) and cache it.
 */
export function processProposal(
  state: GroupState,
  message: MLSMessage | PublicMessage,
  epochKeys?: SecretTree,
): ReceivedProposal {
  if ('wireFormat' in message && message.wireFormat === WireFormat.mls_private_message) {
    const keys = epochKeys ?? mlsFail('invalid', 'a PrivateMessage proposal needs the epoch keys');
    checkEpoch(state, message.privateMessage.groupId, message.privateMessage.epoch);
    return acceptProposal(state, unprotect(state, message, () => keys).content);
  }
  const pub = 'wireFormat' in message ? publicMessageOf(message) : message;
  const suite = suiteOf(state);
  checkEpoch(state, pub.content.groupId, pub.content.epoch);
  if (pub.content.contentType !== ContentType.proposal) mlsFail('invalid', 'not a proposal');
  const ac = fromPublicMessage(suite, pub, {
    groupContext: contextBytes(state.context),
    membershipKey: state.secrets.membershipKey,
    signatureKeys: signatureKeys(state.tree, state.context),
  });
  return acceptProposal(state, ac);
}

/** Cache a verified proposal AuthenticatedContent (from a PublicMessage or a decrypted PrivateMessage). */
export function acceptProposal(state: GroupState, ac: import('../structs').AuthenticatedContent): ReceivedProposal {
  if (ac.content.contentType !== ContentType.proposal) mlsFail('invalid', 'not a proposal');
  const { proposal, sender } = ac.content;
  if (!senderMayPropose(proposal.proposalType, sender)) {
    mlsFail('invalid', `proposal type ${proposal.proposalType} from sender type ${sender.senderType}`);
  }
  if (proposal.proposalType === ProposalType.self_remove && ac.wireFormat !== WireFormat.mls_public_message) {
    mlsFail('invalid', 'SelfRemove must be sent as a PublicMessage');
  }
  if (!isCustomProposal(proposal) && proposal.proposalType === ProposalType.update) {
    if (sender.senderType !== SenderType.member) mlsFail('invalid', 'Update from a non-member');
  }
  const ref = makeProposalRef(suiteOf(state), authenticatedContentBytes(ac));
  return { state: cacheProposal(state, { ref, proposal, sender }), ref, proposal, sender };
}

export function publicMessageOf(message: MLSMessage): PublicMessage {
  if (message.wireFormat !== WireFormat.mls_public_message) {
    mlsFail('invalid', `wire format ${message.wireFormat} is not a PublicMessage`);
  }
  return message.publicMessage;
}

export function checkEpoch(state: GroupState, groupId: Uint8Array, epoch: bigint): void {
  if (!bytesEqual(groupId, state.context.groupId)) mlsFail('invalid', 'message for another group');
  if (epoch !== state.context.epoch) {
    mlsFail('outOfWindow', `message of epoch ${epoch}, group is at epoch ${state.context.epoch}`);
  }
}
