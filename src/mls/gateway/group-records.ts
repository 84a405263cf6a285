/**
 * Reading and writing one group's records (`keys.ts`): the epoch record and the private tree
 * keys once per commit for the whole group, the proposal cache when it changes.
 */
import type { GroupState } from '../core/group';
import type { MlsStorage } from '../mls-storage';
import { gatewayKeys } from './keys';
import {
  decodeEpochRecord,
  decodeProposals,
  decodeTreeKeys,
  encodeEpochRecord,
  encodeProposals,
  encodeTreeKeys,
  type LocalMemberRecord,
} from './state-codec';

export interface StoredGroup {
  readonly state: GroupState;
  readonly locals: LocalMemberRecord[];
}

/** The group as stored, or undefined. */
export async function readGroup(storage: MlsStorage, groupId: Uint8Array): Promise<StoredGroup | undefined> {
  const epochBytes = await storage.get(gatewayKeys.epoch(groupId));
  if (epochBytes === undefined) return undefined;
  const { state: shared, locals } = decodeEpochRecord(epochBytes);
  const epoch = shared.context.epoch;
  const keyBytes = await storage.get(gatewayKeys.treeKeys(groupId));
  const treeKeys = keyBytes === undefined ? undefined : decodeTreeKeys(keyBytes);
  if (treeKeys?.epoch !== epoch) {
    throw new Error(
      `group ${gatewayKeys.groupPrefix(groupId)}: tree keys of epoch ${treeKeys?.epoch} with epoch ${epoch}`,
    );
  }
  const proposalBytes = await storage.get(gatewayKeys.proposals(groupId));
  const cached = proposalBytes === undefined ? undefined : decodeProposals(proposalBytes);
  const state: GroupState = {
    ...shared,
    privateKeys: treeKeys.keys,
    localLeaves: locals.map((l) => l.leafIndex).sort((a, b) => a - b),
    pendingLeafKeys: [],
    proposals: cached?.epoch === epoch ? cached.proposals : [],
  };
  return { state, locals };
}

/**
 * Write a new epoch: tree keys first, then the epoch record (the record names the epoch the keys
 * must match; the DB adapter writes both in the caller's transaction). Returns the bytes written.
 */
export async function writeEpoch(
  storage: MlsStorage,
  state: GroupState,
  locals: readonly LocalMemberRecord[],
): Promise<number> {
  const groupId = state.context.groupId;
  const keys = encodeTreeKeys(state.context.epoch, state.privateKeys);
  const record = encodeEpochRecord(state, locals);
  await storage.put(gatewayKeys.treeKeys(groupId), keys);
  await storage.put(gatewayKeys.epoch(groupId), record);
  return keys.length + record.length + (await writeProposals(storage, state));
}

/** Write (or delete, when empty) the proposal cache. Returns the bytes written. */
export async function writeProposals(storage: MlsStorage, state: GroupState): Promise<number> {
  const key = gatewayKeys.proposals(state.context.groupId);
  if (state.proposals.length === 0) {
    await storage.delete(key);
    return 0;
  }
  const bytes = encodeProposals(state.context.epoch, state.proposals);
  await storage.put(key, bytes);
  return bytes.length;
}

/** Delete every record of the group. */
export async function deleteGroupRecords(storage: MlsStorage, groupId: Uint8Array): Promise<void> {
  for (const key of await storage.list(gatewayKeys.groupPrefix(groupId))) await storage.delete(key);
}
