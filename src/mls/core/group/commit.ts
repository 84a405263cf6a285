/**
 * Creating a commit (RFC 9420 §12.4.1) for a local member, or for an external joiner
 * (`external.ts` calls `buildCommit` with a `new_member_commit` sender): proposals validated
 * and applied, an UpdatePath when required or asked for, transcript hashes, key schedule,
 * confirmation tag, the PublicMessage, the GroupInfo of the new epoch and a Welcome for joiners.
 */
import { encodeValue } from '../../../codec/tls-codec';
import { makeKeyPackageRef, type KeyPair } from '../crypto';
import { mlsFail } from '../errors';
import { encodeMlsMessage } from '../framing';
import type { SecretTree } from '../secret-tree';
import { computeEpochSecrets, confirmationTag } from '../key-schedule';
import {
  ContentType,
  keyPackageCodec,
  ProposalOrRefType,
  ratchetTreeExtension,
  SenderType,
  WireFormat,
  type Commit,
  type Extension,
  type GroupContext,
  type GroupInfo,
  type Proposal,
  type ProposalOrRef,
  type ProposalRef,
  type Sender,
  type Welcome,
} from '../structs';
import { confirmedTranscriptHash, interimTranscriptHash } from '../transcript';
import { treeHash } from '../tree-hash';
import { createUpdatePath, pathSecretForJoiner, type CommitLeafFields } from '../treekem';
import { createGroupInfo, createWelcome } from '../welcome';
import type { AppDataMerge } from './app-data';
import { applyProposals, commitEffects, provisionalContextBase } from './apply';
import { contextBytes, frameHandshake, handshakeWireFormat, signInGroup, suiteOf } from './common';
import { advanceEpoch, pskSecretFor } from './epoch';
import { findCachedProposal } from './proposals';
import { leafAt, pathRequired, validateProposalList } from './proposal-list';
import type {
  CommitEffects,
  CommitPolicy,
  CommittedProposal,
  ExternalPskLookup,
  GroupState,
  LocalSigner,
} from './types';

export interface CreateCommitOptions {
  readonly committer: LocalSigner;
  /** Proposals carried by value (from the committer). */
  readonly proposals?: readonly Proposal[];
  /** Proposals by reference, from the state's cache. */
  readonly proposalRefs?: readonly ProposalRef[];
  /** Include a path even when no proposal requires one. */
  readonly forcePath?: boolean;
  /** Put the ratchet tree in the Welcome's GroupInfo (default true). */
  readonly ratchetTreeInWelcome?: boolean;
  /** LeafNode fields of the committer's new leaf (default: those of its current leaf). */
  readonly leafFields?: Partial<CommitLeafFields>;
  readonly authenticatedData?: Uint8Array;
  readonly externalPsks?: ExternalPskLookup;
  readonly policy?: CommitPolicy;
  readonly appDataMerge?: AppDataMerge;
  /** Extra GroupInfo extensions (external_pub and ratchet_tree are handled here). */
  readonly groupInfoExtensions?: readonly Extension[];
  /** Make a Welcome for added members (default true; false when the caller adds them itself). */
  readonly welcome?: boolean;
  /** Send the commit as a PrivateMessage with the epoch's secret tree (member commits only). */
  readonly privateWith?: SecretTree;
}

export interface CreatedCommit {
  /** MLSMessage (PublicMessage) bytes to send to the group. */
  readonly commitMessage: Uint8Array;
  /** MLSMessage (Welcome) bytes for the joiners, when the commit adds members. */
  readonly welcome?: Uint8Array;
  readonly welcomeStruct?: Welcome;
  /**
   * GroupInfo of the new epoch (with external_pub). It carries the ratchet_tree extension when it
   * is the Welcome's (the commit adds members and `ratchetTreeInWelcome`); otherwise not: signing
   * and encoding the whole tree for every commit is O(group), and the tree goes beside it anyway.
   */
  readonly groupInfo: GroupInfo;
  /** The committer's state in the new epoch (shared by every local member). */
  readonly state: GroupState;
  readonly effects: CommitEffects;
  /** Key pairs this commit created (committer's leaf and path), already in `state.privateKeys`: persist them. */
  readonly newPrivateKeys: ReadonlyMap<number, KeyPair>;
}

/** Commit for local member `options.committer` in `state`'s epoch. */
export function createCommit(state: GroupState, options: CreateCommitOptions): CreatedCommit {
  const { committer } = options;
  if (!leafAt(state.tree, committer.leafIndex)) mlsFail('notFound', `committer leaf ${committer.leafIndex} is blank`);
  const sender: Sender = { senderType: SenderType.member, leafIndex: committer.leafIndex };
  const byValue = (options.proposals ?? []).map<{ p: CommittedProposal; o: ProposalOrRef }>((proposal) => ({
    p: { proposal, sender },
    o: { type: ProposalOrRefType.proposal, proposal },
  }));
  const byRef = (options.proposalRefs ?? []).map<{ p: CommittedProposal; o: ProposalOrRef }>((ref) => {
    const hit = findCachedProposal(state, ref) ?? mlsFail('notFound', 'proposal reference not in the cache');
    return {
      p: { proposal: hit.proposal, sender: hit.sender, ref },
      o: { type: ProposalOrRefType.reference, reference: ref },
    };
  });
  const entries = [...byRef, ...byValue];
  return buildCommit(state, {
    sender,
    committerLeaf: committer.leafIndex,
    signaturePrivateKey: committer.signaturePrivateKey,
    proposals: entries.map((e) => e.p),
    proposalOrRefs: entries.map((e) => e.o),
    initSecret: state.secrets.initSecret,
    options,
  });
}

export interface BuildCommitInput {
  readonly sender: Sender;
  /** Member commit: the committer's leaf; external commit: undefined (a leaf is taken here). */
  readonly committerLeaf?: number;
  readonly signaturePrivateKey: Uint8Array;
  readonly proposals: readonly CommittedProposal[];
  readonly proposalOrRefs: readonly ProposalOrRef[];
  readonly initSecret: Uint8Array;
  /** For external commits: the joiner's LeafNode fields. */
  readonly joinerLeafFields?: CommitLeafFields;
  readonly options: Omit<CreateCommitOptions, 'committer' | 'proposals' | 'proposalRefs'>;
}

/** The commit machinery shared by member and external commits. */
export function buildCommit(state: GroupState, input: BuildCommitInput): CreatedCommit {
  const suite = suiteOf(state);
  const { options } = input;
  const external = input.sender.senderType === SenderType.new_member_commit;
  const list = input.proposals;
  validateProposalList(list, {
    committer: input.sender,
    ...(input.committerLeaf !== undefined ? { committerLeaf: input.committerLeaf } : {}),
    context: state.context,
    tree: state.tree,
    hashLength: suite.hashLength,
  });
  runPolicy(options.policy, state, input.sender, list);
  const applied = applyProposals(suite, state.context, state.tree, list, {
    ...(options.appDataMerge ? { appDataMerge: options.appDataMerge } : {}),
  });
  const tree = applied.tree;
  const usePath = external || options.forcePath === true || pathRequired(list);
  const base = provisionalContextBase(state.context, applied);

  let committerLeaf = input.committerLeaf;
  if (committerLeaf === undefined) {
    const fields = input.joinerLeafFields ?? mlsFail('invalid', 'external commit without the joiner leaf fields');
    committerLeaf = takeLeftmostBlankLeaf(tree, fields);
  }
  const leafFields: CommitLeafFields = input.joinerLeafFields ?? {
    ...currentLeafFields(state, committerLeaf),
    ...options.leafFields,
  };

  let provisional: GroupContext;
  let commitSecret: Uint8Array = new Uint8Array(suite.hashLength);
  let path: ReturnType<typeof createUpdatePath> | undefined;
  if (usePath) {
    path = createUpdatePath({
      suite,
      tree,
      leaf: committerLeaf,
      leafFields,
      signaturePrivateKey: input.signaturePrivateKey,
      groupContext: base,
      excludedLeaves: applied.added.map((a) => a.leafIndex),
    });
    provisional = path.groupContext;
    commitSecret = path.commitSecret;
  } else {
    provisional = { ...base, treeHash: treeHash(suite, tree) };
  }

  const commit: Commit = path
    ? { proposals: [...input.proposalOrRefs], path: path.updatePath }
    : { proposals: [...input.proposalOrRefs] };
  if (external && options.privateWith) mlsFail('invalid', 'an external commit is a PublicMessage');
  const signed = signInGroup(
    state,
    handshakeWireFormat(options.privateWith),
    input.sender,
    { contentType: ContentType.commit, commit },
    input.signaturePrivateKey,
    options.authenticatedData,
  );
  const confirmed = confirmedTranscriptHash(suite, state.interimTranscriptHash, signed);
  const context: GroupContext = { ...provisional, confirmedTranscriptHash: confirmed };
  const pskSecret = pskSecretFor(state, applied.psks, {
    ...(options.externalPsks ? { externalPsks: options.externalPsks } : {}),
    resumptionPsks: state.resumptionPsks,
    groupId: state.context.groupId,
  });
  const secrets = computeEpochSecrets(suite, {
    initSecret: input.initSecret,
    commitSecret,
    pskSecret,
    groupContext: contextBytes(context),
  });
  const tag = confirmationTag(suite, secrets.confirmationKey, confirmed);
  const authenticated = { ...signed, auth: { ...signed.auth, confirmationTag: tag } };
  const commitMessage = frameHandshake(state, authenticated, options.privateWith);
  const interim = interimTranscriptHash(suite, confirmed, tag);

  const next = advanceEpoch(state, {
    context,
    tree,
    interimTranscriptHash: interim,
    confirmationTag: tag,
    secrets,
    ...(path ? { newKeys: path.privateKeys } : {}),
    removedLeaves: applied.removedLeaves,
  });
  const withCommitter = next.localLeaves.includes(committerLeaf)
    ? next
    : { ...next, localLeaves: [...next.localLeaves, committerLeaf].sort((a, b) => a - b) };

  // Signed when needed (a Welcome, or the caller asks): it covers the whole context, and the tree,
  // which is encoded only then (an add of local puppets makes no Welcome: O(group) for nothing).
  let info: GroupInfo | undefined;
  const infoExtensions = (): Extension[] =>
    applied.added.length > 0 && options.ratchetTreeInWelcome !== false
      ? [
          ...(options.groupInfoExtensions ?? []),
          { extensionType: ratchetTreeExtension.type, extensionData: tree.toBytes() },
        ]
      : [...(options.groupInfoExtensions ?? [])];
  const groupInfo = (): GroupInfo =>
    (info ??= createGroupInfo(suite, {
      groupContext: context,
      extensions: infoExtensions(),
      confirmationTag: tag,
      signer: committerLeaf,
      signaturePrivateKey: input.signaturePrivateKey,
      externalSecret: secrets.externalSecret,
    }));

  let welcomeStruct: Welcome | undefined;
  if (applied.added.length > 0 && options.welcome !== false) {
    welcomeStruct = createWelcome(suite, {
      groupInfo: groupInfo(),
      welcomeSecret: secrets.welcomeSecret,
      joinerSecret: secrets.joinerSecret,
      psks: [...applied.psks],
      recipients: applied.added.map((a) => ({
        keyPackageRef: makeKeyPackageRef(suite, encodeValue(a.keyPackage, keyPackageCodec)),
        initKey: a.keyPackage.initKey,
        ...(path ? { pathSecret: pathSecretForJoiner(committerLeaf, a.leafIndex, path.pathSecrets) } : {}),
      })),
    });
  }

  return {
    commitMessage,
    ...(welcomeStruct
      ? { welcome: encodeMlsMessage({ wireFormat: WireFormat.mls_welcome, welcome: welcomeStruct }), welcomeStruct }
      : {}),
    get groupInfo(): GroupInfo {
      return groupInfo();
    },
    state: withCommitter,
    effects: commitEffects(applied, state.localLeaves, committerLeaf),
    newPrivateKeys: path?.privateKeys ?? new Map(),
  };
}

/** The caller's policy: a returned reason or a throw refuses the commit before anything is applied. */
export function runPolicy(
  policy: CommitPolicy | undefined,
  state: GroupState,
  committer: Sender,
  proposals: readonly CommittedProposal[],
): void {
  if (!policy) return;
  const reason = policy({ committer, proposals, context: state.context, tree: state.tree });
  if (typeof reason === 'string') mlsFail('invalid', `commit refused by policy: ${reason}`);
}

function currentLeafFields(state: GroupState, leaf: number): CommitLeafFields {
  const node = leafAt(state.tree, leaf) ?? mlsFail('notFound', `leaf ${leaf} is blank`);
  return {
    signatureKey: node.signatureKey,
    credential: node.credential,
    capabilities: node.capabilities,
    extensions: node.extensions,
  };
}

/**
 * §12.4.2 external commit: the joiner takes the leftmost blank leaf (the tree grows if there is
 * none). The leaf is left blank with its ancestors' unmerged lists untouched except for its own
 * direct path, which the path merge rewrites.
 */
export function takeLeftmostBlankLeaf(tree: GroupState['tree'], fields: CommitLeafFields): number {
  const placeholder = {
    ...fields,
    encryptionKey: new Uint8Array(0),
    leafNodeSource: 2 as const,
    signature: new Uint8Array(0),
  };
  const leaf = tree.addLeaf(placeholder);
  tree.setLeaf(leaf, undefined);
  tree.blankDirectPath(leaf);
  return leaf;
}
