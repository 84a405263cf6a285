/**
 * The generations each local leaf has sent with, per group and epoch, as the `GroupStore` has
 * seen them: kept by the store, so they outlive a group object that is dropped and reloaded from
 * storage (after a rolled-back transaction, an LRU eviction or a failed write). Should a reload
 * ever bring back a sending ratchet from before a ciphertext that already left, the next
 * `GatewayGroup.encrypt` skips past what was sent instead of using a (key, nonce) of the same
 * (epoch, leaf, generation) a second time (RFC 9420 §9.1, §15.2). Storage remains the guarantee
 * across restarts: the ratchet is stored before a ciphertext is returned.
 */
export class SentGenerations {
  /** group id (base64url) → epoch → leaf → the next generation that leaf may send with. */
  private readonly groups = new Map<string, Map<bigint, Map<number, number>>>();

  /** @param keepEpochs epochs kept per group below the newest one recorded */
  constructor(private readonly keepEpochs: number) {}

  /** The lowest generation `leaf` may still send with in `epoch` (0 when nothing was recorded). */
  floor(group: string, epoch: bigint, leaf: number): number {
    return this.groups.get(group)?.get(epoch)?.get(leaf) ?? 0;
  }

  /** `leaf` sent in `epoch` with generations below `next`. */
  record(group: string, epoch: bigint, leaf: number, next: number): void {
    let epochs = this.groups.get(group);
    if (epochs === undefined) this.groups.set(group, (epochs = new Map()));
    let leaves = epochs.get(epoch);
    if (leaves === undefined) {
      epochs.set(epoch, (leaves = new Map()));
      for (const e of epochs.keys()) if (e < epoch - BigInt(this.keepEpochs)) epochs.delete(e);
    }
    if (next > (leaves.get(leaf) ?? 0)) leaves.set(leaf, next);
  }

  /** Forget a group deleted for good. */
  drop(group: string): void {
    this.groups.delete(group);
  }
}
