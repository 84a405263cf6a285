/** Read-only views of a group's shared state: members, participants, a summary. */
import type { UserUri } from '../../common/ids';
import { encodeValue } from '../../codec/tls-codec';
import { encodeMlsMessage } from '../core/framing';
import { groupInfo, type GroupState, type LocalSigner } from '../core/group';
import { groupInfoCodec, WireFormat } from '../core/structs';
import { bytesEqual } from '../core/tree-hash';
import { userOfCredential } from './identities';
import { participantsOf } from './room-extensions';
import type { LocalMemberRecord } from './state-codec';
import type { Participant } from '../app-data';
import type { GatewayGroupSummary, GatewayMember, GroupInfoBundle } from './types';

const membersCache = new WeakMap<GroupState['tree'], GatewayMember[]>();
/** Decoded participant lists by GroupContext extension list (never mutated; shared across epochs that keep it). */
const participantsCache = new WeakMap<GroupState['context']['extensions'], readonly Participant[]>();

function cachedParticipants(state: GroupState): readonly Participant[] {
  const extensions = state.context.extensions;
  let list = participantsCache.get(extensions);
  if (!list) {
    list = participantsOf(extensions);
    participantsCache.set(extensions, list);
  }
  return list;
}

/** The user of a leaf's credential, by LeafNode object (never mutated, shared by successive trees). */
const leafUsers = new WeakMap<object, UserUri | null>();
function userOfLeaf(node: { readonly credential: Parameters<typeof userOfCredential>[0] }): UserUri | undefined {
  let user = leafUsers.get(node);
  if (user === undefined) {
    user = userOfCredential(node.credential) ?? null;
    leafUsers.set(node, user);
  }
  return user ?? undefined;
}

/** The tree's members (cached per tree object: trees in a state are never mutated). */
function membersOf(state: GroupState): GatewayMember[] {
  let members = membersCache.get(state.tree);
  if (!members) {
    const local = new Set(state.localLeaves);
    members = [];
    for (const [leafIndex, node] of state.tree.leaves()) {
      const user = userOfLeaf(node);
      members.push({
        leafIndex,
        ...(user ? { user } : {}),
        signatureKey: node.signatureKey,
        local: local.has(leafIndex),
      });
    }
    membersCache.set(state.tree, members);
  }
  return members;
}

/**
 * The user of `leaf` in `epoch` (default: the current one). A past epoch keeps only signature
 * keys, so its sender is named only while the same key still holds that leaf; otherwise undefined.
 */
export function userAtLeaf(state: GroupState, leaf: number, epoch?: bigint): UserUri | undefined {
  const node = leaf < state.tree.leafCount ? state.tree.leafNode(leaf) : undefined;
  if (!node) return undefined;
  if (epoch !== undefined && epoch !== state.context.epoch) {
    const past = state.pastEpochs.find((p) => p.context.epoch === epoch)?.signatureKeys[leaf];
    if (!past || !bytesEqual(past, node.signatureKey)) return undefined;
  }
  return userOfLeaf(node);
}

export function summarise(
  state: GroupState,
  locals: readonly LocalMemberRecord[],
  commitStaged: boolean,
): GatewayGroupSummary {
  const local = new Set(locals.map((l) => l.leafIndex));
  return {
    groupId: state.context.groupId,
    epoch: state.context.epoch,
    members: membersOf(state).map((m) => (m.local === local.has(m.leafIndex) ? m : { ...m, local: !m.local })),
    participants: cachedParticipants(state),
    localMembers: [...locals]
      .sort((a, b) => a.leafIndex - b.leafIndex)
      .map((l) => ({ user: l.user, leafIndex: l.leafIndex })),
    pendingProposals: state.proposals.length,
    commitStaged,
  };
}

/** GroupInfo (external_pub, no tree) signed by `signer`, and the ratchet tree. */
export function groupInfoBundle(state: GroupState, signer: LocalSigner): GroupInfoBundle {
  const info = groupInfo(state, signer, { ratchetTree: false });
  return {
    groupId: state.context.groupId,
    epoch: state.context.epoch,
    groupInfo: encodeValue(info, groupInfoCodec),
    groupInfoMessage: encodeMlsMessage({ wireFormat: WireFormat.mls_group_info, groupInfo: info }),
    ratchetTree: state.tree.toBytes(),
  };
}
