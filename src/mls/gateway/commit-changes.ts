/**
 * Turning `GatewayChanges` into the proposals of one commit, and registering local puppets a
 * merged commit of ours added: the gateway made their KeyPackages, so their leaf keys go straight
 * into the shared private tree keys, without a Welcome.
 */
import type { UserUri } from '../../common/ids';
import { ValidationError } from '../../common/errors';
import { encodeParticipantList, MimiComponentId } from '../app-data';
import { encodeValue } from '../../codec/tls-codec';
import { propose, type CommitEffects, type CreatedCommit, type GroupState, type JoinerKeys } from '../core/group';
import { groupInfoCodec } from '../core/structs';
import { bytesEqual } from '../core/tree-hash';
import type { Proposal } from '../core/structs';
import { checkKeyPackage, userOfCredential, type Identities } from './identities';
import type { LocalMemberRecord } from './state-codec';
import type { GatewayChanges, GatewayStagedCommit } from './types';

/** A local user joining by one of our commits, with the private keys of its KeyPackage. */
export interface LocalJoiner {
  readonly user: UserUri;
  readonly keys: JoinerKeys;
  /** Set when the KeyPackage was published (stored): it is deleted once the commit is merged. */
  readonly storedRef?: Uint8Array;
}

export interface PreparedChanges {
  readonly proposals: Proposal[];
  readonly localJoiners: LocalJoiner[];
  readonly joinerRefs: Uint8Array[];
}

/** The users of the tree's leaves (MIMI basic credentials). */
function leavesOfUsers(state: GroupState, users: readonly UserUri[]): number[] {
  const out: number[] = [];
  for (const [leaf, node] of state.tree.leaves()) {
    const user = userOfCredential(node.credential);
    if (user !== undefined && users.includes(user)) out.push(leaf);
  }
  return out;
}

export async function prepareChanges(
  state: GroupState,
  changes: GatewayChanges,
  identities: Identities,
  now: number,
): Promise<PreparedChanges> {
  const proposals: Proposal[] = [];
  const localJoiners: LocalJoiner[] = [];
  const joinerRefs: Uint8Array[] = [];
  for (const bytes of changes.add ?? []) {
    const { keyPackage, user, ref } = checkKeyPackage(bytes, now);
    proposals.push(propose.add(keyPackage));
    joinerRefs.push(ref);
    const keys = (await identities.get(user)) ? await identities.keyPackageKeys(user, ref) : undefined;
    if (keys) localJoiners.push({ user, keys, storedRef: ref });
  }
  for (const user of changes.addLocal ?? []) {
    const made = await identities.newKeyPackage(user, { persist: false });
    proposals.push(propose.add(made.keys.keyPackage));
    joinerRefs.push(made.ref);
    localJoiners.push({ user, keys: made.keys });
  }
  const removed = new Set<number>(changes.remove ?? []);
  if (changes.removeUsers?.length) {
    const leaves = leavesOfUsers(state, changes.removeUsers);
    if (leaves.length === 0) throw new ValidationError(`no leaf of ${changes.removeUsers.join(', ')} in the group`);
    for (const l of leaves) removed.add(l);
  }
  for (const leaf of [...removed].sort((a, b) => a - b)) proposals.push(propose.remove(leaf));
  if (changes.participants) {
    proposals.push(propose.appDataUpdate(MimiComponentId.ParticipantList, encodeParticipantList(changes.participants)));
  }
  for (const c of changes.appData ?? []) proposals.push(propose.appDataUpdate(c.componentId, c.data));
  proposals.push(...(changes.proposals ?? []));
  return { proposals, localJoiners, joinerRefs };
}

/** `state` with the leaf keys of `joiners` that `effects` added, and their member records. */
export function registerJoiners(
  state: GroupState,
  effects: CommitEffects,
  joiners: readonly LocalJoiner[],
  now: number,
): { state: GroupState; added: LocalMemberRecord[] } {
  if (joiners.length === 0) return { state, added: [] };
  const privateKeys = new Map(state.privateKeys);
  const localLeaves = new Set(state.localLeaves);
  const added: LocalMemberRecord[] = [];
  for (const leaf of effects.addedLeaves) {
    const node = state.tree.leafNode(leaf);
    if (!node) continue;
    const j = joiners.find((x) => bytesEqual(x.keys.keyPackage.leafNode.encryptionKey, node.encryptionKey));
    if (!j) continue;
    privateKeys.set(2 * leaf, { privateKey: j.keys.encryptionPrivateKey, publicKey: node.encryptionKey });
    localLeaves.add(leaf);
    added.push({ user: j.user, leafIndex: leaf, leafKeySince: now, sentBefore: 0 });
  }
  return {
    state: { ...state, privateKeys, localLeaves: [...localLeaves].sort((a, b) => a - b) },
    added,
  };
}

/** What the caller gets of a staged commit. */
export function stagedCommitOf(
  committer: UserUri,
  created: CreatedCommit,
  joinerRefs: Uint8Array[],
): GatewayStagedCommit {
  let groupInfo: Uint8Array | undefined;
  // The GroupInfo and the tree are encoded when asked for: a hub's own commit needs neither.
  return {
    groupId: created.state.context.groupId,
    epoch: created.state.context.epoch,
    committer,
    commit: created.commitMessage,
    ...(created.welcome ? { welcome: created.welcome } : {}),
    joiners: joinerRefs,
    get groupInfo(): Uint8Array {
      groupInfo ??= encodeValue(created.groupInfo, groupInfoCodec);
      return groupInfo;
    },
    get ratchetTree(): Uint8Array {
      return created.state.tree.toBytes();
    },
    effects: created.effects,
  };
}

/**
 * Local member records in the next epoch: members whose leaf is gone are dropped; a member whose
 * leaf key changed starts a new key age; the others add what they sent in the old epoch.
 */
export function nextLocals(
  prev: GroupState,
  next: GroupState,
  locals: Iterable<LocalMemberRecord>,
  now: number,
  sentInPrev: (leaf: number) => number,
): Map<UserUri, LocalMemberRecord> {
  const stillLocal = new Set(next.localLeaves);
  const out = new Map<UserUri, LocalMemberRecord>();
  for (const m of locals) {
    if (!stillLocal.has(m.leafIndex)) continue;
    const before = prev.tree.leafNode(m.leafIndex)?.encryptionKey;
    const after = next.tree.leafNode(m.leafIndex)?.encryptionKey;
    const rotated = before !== undefined && after !== undefined && !bytesEqual(before, after);
    out.set(
      m.user,
      rotated
        ? { ...m, leafKeySince: now, sentBefore: 0 }
        : { ...m, sentBefore: m.sentBefore + sentInPrev(m.leafIndex) },
    );
  }
  return out;
}
