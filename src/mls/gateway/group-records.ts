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
  const keyBytes = await storage.get(gatewayKeys.treeKeys(groupId, epoch));
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
 * Write a new epoch: its tree keys under a key of their own epoch, then the epoch record, then
 * the older epochs' tree keys are deleted. A write that stops half-way leaves the previous epoch
 * loadable (the DB adapter writes all of it in the caller's transaction anyway). Returns the
 * bytes written.
 */
export async function writeEpoch(
  storage: MlsStorage,
  state: GroupState,
  locals: readonly LocalMemberRecord[],
): Promise<number> {
  const groupId = state.context.groupId;
  const keys = encodeTreeKeys(state.context.epoch, state.privateKeys);
  const record = encodeEpochRecord(state, locals);
  const keysKey = gatewayKeys.treeKeys(groupId, state.context.epoch);
  await storage.put(keysKey, keys);
  await storage.put(gatewayKeys.epoch(groupId), record);
  for (const old of await storage.list(gatewayKeys.treeKeysPrefix(groupId))) {
    if (old !== keysKey) await storage.delete(old);
  }
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
