/**
 * A received commit checked without applying it: what the hub needs to authorise a follower's
 * commit (committer, external or not, participant list before and after, users added and
 * removed) before it touches the legacy room, then applies the same verified result.
 */
import * as crypto from 'node:crypto';
import type { UserUri } from '../../common/ids';
import type { Participant } from '../app-data';
import { MlsProtocolError } from '../core/errors';
import { decodeMlsMessage } from '../core/framing';
import {
  processCommit,
  type CommitEffects,
  type CommitPolicy,
  type GroupState,
  type ProcessedCommit,
} from '../core/group';
import { ContentType, type Extension, SenderType, WireFormat } from '../core/structs';
import { bytesEqual } from '../core/tree-hash';
import { userOfCredential } from './identities';
import { participantsOf } from './room-extensions';

export interface CommitPreview {
  /** 'ok': the commit verifies and may be applied; 'wrongEpoch': for another epoch; 'invalid': refused. */
  readonly verdict: 'ok' | 'wrongEpoch' | 'invalid';
  readonly reason?: string;
  readonly currentEpoch: bigint;
  readonly messageEpoch?: bigint;
  readonly committer?: UserUri;
  /** An external commit (sender new_member_commit). */
  readonly external?: boolean;
  readonly effects?: CommitEffects;
  readonly participantsBefore: readonly Participant[];
  readonly participantsAfter?: readonly Participant[];
  /** The GroupContext extensions after the commit (room state components included). */
  readonly extensionsAfter?: readonly Extension[];
  /** Users of the leaves the commit adds (and, for an external commit, the joiner). */
  readonly addedUsers?: readonly UserUri[];
  /** Users of the leaves the commit removes. */
  readonly removedUsers?: readonly UserUri[];
}

export function digestOf(bytes: Uint8Array): string {
  // One call where node:crypto has the one-shot hash (Node >= 20.12): this runs for every message.
  return oneShotHash
    ? oneShotHash('sha256', bytes, 'base64')
    : crypto.createHash('sha256').update(bytes).digest('base64');
}

const oneShotHash = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'base64') => string }).hash;

/** Verify `bytes` as a commit of `state`'s epoch; on 'ok' also the processed result to apply later. */
export function previewCommit(
  state: GroupState,
  bytes: Uint8Array,
  policy?: CommitPolicy,
): { preview: CommitPreview; processed?: ProcessedCommit } {
  const base = { currentEpoch: state.context.epoch, participantsBefore: participantsOf(state.context.extensions) };
  let message;
  try {
    message = decodeMlsMessage(bytes);
  } catch (e) {
    return { preview: { ...base, verdict: 'invalid', reason: `malformed: ${String(e)}` } };
  }
  if (message.wireFormat !== WireFormat.mls_public_message) {
    return { preview: { ...base, verdict: 'invalid', reason: 'not a PublicMessage' } };
  }
  const content = message.publicMessage.content;
  const head = { ...base, messageEpoch: content.epoch };
  if (content.contentType !== ContentType.commit) {
    return { preview: { ...head, verdict: 'invalid', reason: 'not a commit' } };
  }
  if (!bytesEqual(content.groupId, state.context.groupId)) {
    return { preview: { ...head, verdict: 'invalid', reason: 'commit for another group' } };
  }
  if (content.epoch !== state.context.epoch) {
    return {
      preview: { ...head, verdict: 'wrongEpoch', reason: `epoch ${content.epoch}, group at ${state.context.epoch}` },
    };
  }
  let processed: ProcessedCommit;
  try {
    processed = processCommit(state, message, policy ? { policy } : {});
  } catch (e) {
    if (e instanceof MlsProtocolError) return { preview: { ...head, verdict: 'invalid', reason: e.message } };
    throw e;
  }
  const { effects } = processed;
  const after = processed.state?.tree;
  const userAt = (tree: GroupState['tree'] | undefined, leaf: number): UserUri | undefined => {
    const node = tree && leaf < tree.leafCount ? tree.leafNode(leaf) : undefined;
    return node ? userOfCredential(node.credential) : undefined;
  };
  const external = content.sender.senderType === SenderType.new_member_commit;
  const added = [...effects.addedLeaves, ...(external ? [effects.committerLeaf] : [])];
  const pathLeaf = content.commit.path?.leafNode;
  const committer = external
    ? pathLeaf && userOfCredential(pathLeaf.credential)
    : userAt(state.tree, effects.committerLeaf);
  const preview: CommitPreview = {
    ...head,
    verdict: 'ok',
    ...(committer ? { committer } : {}),
    external,
    effects,
    participantsAfter: participantsOf(effects.newExtensions),
    extensionsAfter: effects.newExtensions,
    addedUsers: added.map((l) => userAt(after, l)).filter((u): u is UserUri => u !== undefined),
    removedUsers: effects.removedLeaves.map((l) => userAt(state.tree, l)).filter((u): u is UserUri => u !== undefined),
  };
  return { preview, processed };
}
