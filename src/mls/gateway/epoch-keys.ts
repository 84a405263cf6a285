/**
 * The secret trees of a group's current and kept past epochs, one per epoch for the whole
 * gateway (every local member sends and receives on the same tree), persisted one row per leaf
 * whose ratchets moved: `mls2/group/<gid>/ratchet/<epoch>/<leaf>`.
 *
 * The unexpanded node secrets are not stored: the epoch record keeps `encryption_secret` (the
 * core's `GroupState` does, for current and past epochs), so a loaded tree starts from the root
 * and leaves with a saved row take that row instead of being derived again.
 */
import type { CipherSuite } from '../core/crypto';
import type { GroupState } from '../core/group';
import { SecretTree } from '../core/secret-tree';
import type { MlsStorage } from '../mls-storage';
import { gatewayKeys } from './keys';

/** Bytes written by a save, for the storage-size accounting of callers and tests. */
export type WrittenBytes = number;

export class EpochKeyRing {
  private readonly trees = new Map<bigint, SecretTree>();
  /** Storage key prefix of each epoch's ratchet rows (`gatewayKeys.ratchet` without the leaf). */
  private readonly prefixes = new Map<bigint, string>();

  private constructor(private readonly suite: CipherSuite) {}

  /** The trees of `state`'s epochs with the saved ratchet rows (all rows are read: `loadLeaf` is sync). */
  static async load(storage: MlsStorage, suite: CipherSuite, state: GroupState): Promise<EpochKeyRing> {
    const ring = new EpochKeyRing(suite);
    for (const { epoch, encryptionSecret, leafCount } of epochsOf(state)) {
      const prefix = gatewayKeys.ratchetPrefix(state.context.groupId, epoch);
      const rows: Uint8Array[] = [];
      for (const key of await storage.list(prefix)) {
        const row = await storage.get(key);
        if (row !== undefined) rows.push(row);
      }
      ring.trees.set(epoch, ring.tree(encryptionSecret, leafCount, rows));
    }
    return ring;
  }

  /** A ring for a group created or joined now: its current epoch only, nothing saved yet. */
  static fresh(suite: CipherSuite, state: GroupState): EpochKeyRing {
    const ring = new EpochKeyRing(suite);
    ring.trees.set(state.context.epoch, ring.tree(state.secrets.encryptionSecret, state.tree.leafCount, []));
    return ring;
  }

  private tree(encryptionSecret: Uint8Array, leafCount: number, rows: Uint8Array[]): SecretTree {
    const fresh = SecretTree.create(this.suite, encryptionSecret, leafCount);
    if (rows.length === 0) return fresh;
    return SecretTree.restore(this.suite, fresh.exportNodes(), {}, rows);
  }

  keysFor(epoch: bigint): SecretTree | undefined {
    return this.trees.get(epoch);
  }

  /** Application messages `leaf` sent in `epoch` (its application ratchet's generation). */
  sentIn(epoch: bigint, leaf: number): number {
    return this.trees.get(epoch)?.leafState(leaf)?.application.generation ?? 0;
  }

  /**
   * Write the rows of leaves whose ratchets moved in `epoch` since the last save. Called before a
   * ciphertext leaves `protect`'s caller, so a restart never reuses a (key, nonce).
   */
  async save(storage: MlsStorage, groupId: Uint8Array, epoch: bigint): Promise<WrittenBytes> {
    const tree = this.trees.get(epoch);
    if (!tree) return 0;
    let bytes = 0;
    let prefix = this.prefixes.get(epoch);
    if (prefix === undefined) {
      prefix = gatewayKeys.ratchetPrefix(groupId, epoch);
      this.prefixes.set(epoch, prefix);
    }
    for (const leaf of tree.takeChanges().leaves) {
      const row = tree.exportLeaf(leaf);
      if (row === undefined) continue;
      await storage.put(`${prefix}${leaf}`, row);
      bytes += row.length;
    }
    return bytes;
  }

  /**
   * Move to `next`'s epoch: a new tree for it, trees of epochs `next` no longer keeps dropped.
   * Returns the dropped epochs (their rows are the caller's to delete).
   */
  advance(next: GroupState): bigint[] {
    const keep = new Set(epochsOf(next).map((e) => e.epoch));
    const dropped = [...this.trees.keys()].filter((e) => !keep.has(e));
    for (const e of dropped) {
      this.trees.delete(e);
      this.prefixes.delete(e);
    }
    if (!this.trees.has(next.context.epoch)) {
      this.trees.set(next.context.epoch, this.tree(next.secrets.encryptionSecret, next.tree.leafCount, []));
    }
    return dropped;
  }
}

function epochsOf(state: GroupState): { epoch: bigint; encryptionSecret: Uint8Array; leafCount: number }[] {
  return [
    {
      epoch: state.context.epoch,
      encryptionSecret: state.secrets.encryptionSecret,
      leafCount: state.tree.leafCount,
    },
    ...state.pastEpochs.map((p) => ({
      epoch: p.context.epoch,
      encryptionSecret: p.encryptionSecret,
      leafCount: p.signatureKeys.length,
    })),
  ];
}

/** Delete the ratchet rows of `epochs`. */
export async function deleteRatchetRows(
  storage: MlsStorage,
  groupId: Uint8Array,
  epochs: readonly bigint[],
): Promise<void> {
  for (const epoch of epochs) {
    for (const key of await storage.list(gatewayKeys.ratchetPrefix(groupId, epoch))) await storage.delete(key);
  }
}
