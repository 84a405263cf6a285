/**
 * Processing a received commit (RFC 9420 §12.4.2), from a member or an external joiner
 * (§12.4.3.2). Everything is checked before the next state exists: membership tag and signature,
 * the proposal list (§12.2), the caller's policy, path presence, the path's leaf and parent
 * hash, path decryption, confirmation tag. The input state is never changed; on any failure
 * the caller keeps it.
 */
import type { KeyPair } from '../crypto';
import { mlsFail, MlsProtocolError } from '../errors';
import { fromPublicMessage } from '../framing';
import { computeEpochSecrets, externalInitReceive, verifyConfirmationTag } from '../key-schedule';
import {
  ContentType,
  SenderType,
  WireFormat,
  type AuthenticatedContent,
  type GroupContext,
  type MLSMessage,
  type PublicMessage,
} from '../structs';
import { confirmedTranscriptHash, interimTranscriptHash } from '../transcript';
import { treeHash } from '../tree-hash';
import { decryptUpdatePath, mergeUpdatePath } from '../treekem';
import type { SecretTree } from '../secret-tree';
import type { AppDataMerge } from './app-data';
import { applyProposals, commitEffects, provisionalContextBase } from './apply';
import { runPolicy, takeLeftmostBlankLeaf } from './commit';
import { contextBytes, signatureKeys, suiteOf } from './common';
import { advanceEpoch, pskSecretFor } from './epoch';
import { checkLeafInGroup } from './leaf-validation';
import { unprotect } from './messages';
import { checkEpoch, publicMessageOf } from './proposals';
import { leafAt, pathRequired, resolveProposals, validateProposalList } from './proposal-list';
import type { CachedProposal, CommitEffects, CommitPolicy, ExternalPskLookup, GroupState } from './types';

export interface ProcessCommitOptions {
  /** Proposals the commit may reference (default: the state's cache). */
  readonly cachedProposals?: readonly CachedProposal[];
  /**
   * Which leaves are local members (default: `state.localLeaves`): decides whether any local
   * member survives the commit and which removed leaves are reported as local.
   */
  readonly isLocalLeaf?: (leaf: number) => boolean;
  readonly policy?: CommitPolicy;
  readonly externalPsks?: ExternalPskLookup;
  readonly appDataMerge?: AppDataMerge;
  /** The epoch's secret tree, needed only for a commit sent as a PrivateMessage. */
  readonly epochKeys?: SecretTree;
}

export interface ProcessedCommit {
  /**
   * The group in the new epoch; undefined when the commit removed every local member (the
   * commit was still verified as far as a removed member can: signature and membership tag).
   */
  readonly state?: GroupState;
  readonly effects: CommitEffects;
  /** Key pairs decrypted from the commit's path, already in `state.privateKeys`: persist them. */
  readonly newPrivateKeys: ReadonlyMap<number, KeyPair>;
  /** The verified commit content (for the caller's logs or application-level checks). */
  readonly content: AuthenticatedContent;
}

/** Verify and apply a commit of the state's epoch (PublicMessage, or PrivateMessage with `epochKeys`). */
export function processCommit(
  state: GroupState,
  message: MLSMessage | PublicMessage,
  options: ProcessCommitOptions = {},
): ProcessedCommit {
  if ('wireFormat' in message && message.wireFormat === WireFormat.mls_private_message) {
    const keys = options.epochKeys ?? mlsFail('invalid', 'a PrivateMessage commit needs the epoch keys');
    checkEpoch(state, message.privateMessage.groupId, message.privateMessage.epoch);
    return applyCommitContent(state, unprotect(state, message, () => keys).content, options);
  }
  const pub = 'wireFormat' in message ? publicMessageOf(message) : message;
  const suite = suiteOf(state);
  checkEpoch(state, pub.content.groupId, pub.content.epoch);
  if (pub.content.contentType !== ContentType.commit) mlsFail('invalid', 'not a commit');
  const sender = pub.content.sender;
  if (sender.senderType !== SenderType.member && sender.senderType !== SenderType.new_member_commit) {
    mlsFail('invalid', `commit from sender type ${sender.senderType}`);
  }
  const oldContext = contextBytes(state.context);
  const ac = fromPublicMessage(suite, pub, {
    groupContext: oldContext,
    membershipKey: state.secrets.membershipKey,
    signatureKeys: signatureKeys(state.tree, state.context),
  });
  return applyCommitContent(state, ac, options);
}

/** The rest of commit processing once the content is authenticated (also used for PrivateMessage commits). */
export function applyCommitContent(
  state: GroupState,
  ac: AuthenticatedContent,
  options: ProcessCommitOptions = {},
): ProcessedCommit {
  const suite = suiteOf(state);
  if (ac.content.contentType !== ContentType.commit) mlsFail('invalid', 'not a commit');
  const { commit } = ac.content;
  const sender = ac.content.sender;
  const external = sender.senderType === SenderType.new_member_commit;
  if (external && ac.wireFormat !== WireFormat.mls_public_message) {
    mlsFail('invalid', 'external commit not in a PublicMessage');
  }
  const tag = ac.auth.confirmationTag ?? mlsFail('invalid', 'commit without confirmation tag');
  // Local members that may decrypt: the state's, or every leaf the caller's predicate names.
  const localCandidates = options.isLocalLeaf
    ? [...state.tree.leaves()].map(([leaf]) => leaf).filter(options.isLocalLeaf)
    : state.localLeaves;

  const list = resolveProposals(commit, sender, options.cachedProposals ?? state.proposals);
  const memberLeaf = sender.senderType === SenderType.member ? sender.leafIndex : undefined;
  if (memberLeaf !== undefined && !leafAt(state.tree, memberLeaf)) {
    mlsFail('invalid', `committer leaf ${memberLeaf} is blank`);
  }
  validateProposalList(list, {
    committer: sender,
    ...(memberLeaf !== undefined ? { committerLeaf: memberLeaf } : {}),
    context: state.context,
    tree: state.tree,
    hashLength: suite.hashLength,
  });
  runPolicy(options.policy, state, sender, list);
  const applied = applyProposals(suite, state.context, state.tree, list, {
    ...(options.appDataMerge ? { appDataMerge: options.appDataMerge } : {}),
  });
  if ((external || pathRequired(list)) && !commit.path) mlsFail('invalid', 'commit without a required path');

  const tree = applied.tree;
  const base = provisionalContextBase(state.context, applied);
  let committerLeaf = memberLeaf;
  let commitSecret: Uint8Array = new Uint8Array(suite.hashLength);
  let provisional: GroupContext;
  let newKeys: ReturnType<typeof decryptUpdatePath>['privateKeys'] | undefined;
  let locallyKnown = true;

  if (commit.path) {
    if (committerLeaf === undefined) {
      const { signatureKey, credential, capabilities, extensions } = commit.path.leafNode;
      committerLeaf = takeLeftmostBlankLeaf(tree, { signatureKey, credential, capabilities, extensions });
    }
    mergeUpdatePath(suite, tree, committerLeaf, commit.path, state.context.groupId);
    checkLeafInGroup(tree, commit.path.leafNode, {
      groupId: state.context.groupId,
      leafIndex: committerLeaf,
      extensions: applied.extensions,
      replacing: committerLeaf,
    });
    provisional = { ...base, treeHash: treeHash(suite, tree) };
    const excludedLeaves = applied.added.map((a) => a.leafIndex);
    const survivors = localCandidates.filter((l) => !applied.removedLeaves.includes(l));
    if (survivors.length === 0) {
      locallyKnown = false;
    } else {
      try {
        const decrypted = decryptUpdatePath({
          suite,
          tree,
          leaf: committerLeaf,
          updatePath: commit.path,
          privateKeys: withPendingLeafKeys(state, tree),
          groupContext: provisional,
          excludedLeaves,
        });
        commitSecret = decrypted.commitSecret;
        newKeys = decrypted.privateKeys;
      } catch (e) {
        if (e instanceof MlsProtocolError && e.failure === 'notFound' && survivors.every((l) => l === committerLeaf)) {
          mlsFail('invalid', 'a commit by a local member must not be processed: use the state createCommit returned');
        }
        throw e;
      }
    }
  } else {
    provisional = { ...base, treeHash: treeHash(suite, tree) };
    if (!localCandidates.some((l) => !applied.removedLeaves.includes(l))) locallyKnown = false;
  }
  if (committerLeaf === undefined) return mlsFail('invalid', 'external commit without a path');

  const effects = commitEffects(applied, localCandidates, committerLeaf);
  if (!locallyKnown) return { effects, content: ac, newPrivateKeys: new Map() };

  const confirmed = confirmedTranscriptHash(suite, state.interimTranscriptHash, ac);
  const context: GroupContext = { ...provisional, confirmedTranscriptHash: confirmed };
  const initSecret = external
    ? externalInitReceive(
        suite,
        state.secrets.externalSecret,
        applied.externalInit ?? mlsFail('invalid', 'external commit without ExternalInit'),
      )
    : state.secrets.initSecret;
  const pskSecret = pskSecretFor(state, applied.psks, {
    ...(options.externalPsks ? { externalPsks: options.externalPsks } : {}),
    resumptionPsks: state.resumptionPsks,
    groupId: state.context.groupId,
  });
  const secrets = computeEpochSecrets(suite, {
    initSecret,
    commitSecret,
    pskSecret,
    groupContext: contextBytes(context),
  });
  if (!verifyConfirmationTag(suite, secrets.confirmationKey, confirmed, tag)) {
    mlsFail('badTag', 'commit confirmation tag does not verify');
  }
  const next = advanceEpoch(state, {
    context,
    tree,
    interimTranscriptHash: interimTranscriptHash(suite, confirmed, tag),
    confirmationTag: tag,
    secrets,
    ...(newKeys ? { newKeys } : {}),
    removedLeaves: applied.removedLeaves,
  });
  return { state: next, effects, content: ac, newPrivateKeys: newKeys ?? new Map() };
}

/**
 * The private keys a committer's path may be encrypted to: ours, plus the fresh leaf keys of
 * our own Update proposals that this commit may have applied (§12.1.2: the committer encrypts
 * to the updated leaf's new key).
 */
function withPendingLeafKeys(state: GroupState, tree: GroupState['tree']): GroupState['privateKeys'] {
  if (state.pendingLeafKeys.length === 0) return state.privateKeys;
  const keys = new Map(state.privateKeys);
  for (const kp of state.pendingLeafKeys) {
    const leaf = tree.findLeafByEncryptionKey(kp.publicKey);
    if (leaf !== undefined) keys.set(2 * leaf, kp);
  }
  return keys;
}
