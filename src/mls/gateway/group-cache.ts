/**
 * The groups `GroupStore` holds in memory: loaded on first use, unloaded again when the cache is
 * over its size cap (least recently used first) or when a group was not used for a while
 * (`unloadIdle`, run by a periodic sweep). A busy group (an operation running, a staged commit)
 * and a group that `keep` names (written by a transaction still open) stay.
 *
 * Unloading never makes two live objects of one group: an unloaded group is remembered by a
 * WeakRef, and while anything still holds it (work in flight that fetched it before), the next
 * `get` hands out that same object again instead of reading storage. Only once it was collected
 * is the group read back from storage, which holds everything it wrote (writes go through before
 * an operation returns). Groups dropped for cause (`forget`: a rollback, a failed write, a
 * deleted group) are not brought back that way.
 */

/** What the cache needs of a group. */
export interface CachedGroup {
  /** Busy or holding a staged commit: must not be unloaded. */
  readonly pinned: boolean;
  /** Retired (its in-memory state may not match storage): never handed out again. */
  readonly removed: boolean;
}

export interface GroupCacheOptions {
  /** Groups held at most; least recently used idle ones beyond it are unloaded. */
  readonly maxLoaded: number;
  /** The clock of idle times (ms). */
  readonly now: () => number;
  /** Groups that must stay loaded whatever their age (e.g. written by an open transaction). */
  readonly keep?: (key: string) => boolean;
}

export class GroupCache<G extends CachedGroup> {
  /** LRU order: the most recently used last. Pending loads included. */
  private readonly entries = new Map<string, Promise<G | undefined>>();
  /** The loaded groups among `entries`. */
  private readonly settled = new Map<string, G>();
  /** When each entry was last handed out or installed. */
  private readonly usedAt = new Map<string, number>();
  /** Groups unloaded while possibly still held by work in flight. */
  private readonly unloaded = new Map<string, WeakRef<G>>();
  private readonly collected = new FinalizationRegistry<string>((key) => {
    if (this.unloaded.get(key)?.deref() === undefined) this.unloaded.delete(key);
  });

  constructor(private readonly options: GroupCacheOptions) {}

  /** Groups in memory (and loads under way). */
  get size(): number {
    return this.entries.size;
  }

  /** The group `key` if loaded, without counting as a use (a periodic check looking at it). */
  peek(key: string): G | undefined {
    return this.settled.get(key);
  }

  loaded(): G[] {
    return [...this.settled.values()];
  }

  /** The group `key`, from memory or else from `load` (undefined: no such group; not cached). */
  get(key: string, load: () => Promise<G | undefined>): Promise<G | undefined> {
    this.usedAt.set(key, this.options.now());
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      return entry;
    }
    const held = this.unloaded.get(key)?.deref();
    this.unloaded.delete(key);
    if (held !== undefined && !held.removed) {
      this.put(key, held);
      return Promise.resolve(held);
    }
    const mine = load();
    this.entries.set(key, mine);
    mine.then(
      (g) => {
        if (this.entries.get(key) !== mine) return;
        if (g === undefined) this.drop(key);
        else this.settled.set(key, g);
      },
      () => {
        if (this.entries.get(key) === mine) this.drop(key);
      },
    );
    this.trim();
    return mine;
  }

  /** Hold `group` as `key` (a group just created or joined). */
  put(key: string, group: G): void {
    this.unloaded.delete(key);
    this.entries.delete(key);
    this.entries.set(key, Promise.resolve(group));
    this.settled.set(key, group);
    this.usedAt.set(key, this.options.now());
    this.trim();
  }

  /** Drop `key` for cause: its next `get` reads storage. */
  forget(key: string): void {
    this.drop(key);
    this.unloaded.delete(key);
  }

  /** Unload the loaded groups not used for `idleMs` (busy and kept ones stay); returns how many. */
  unloadIdle(idleMs: number): number {
    const before = this.options.now() - idleMs;
    let count = 0;
    for (const [key, group] of [...this.settled]) {
      if ((this.usedAt.get(key) ?? 0) > before || !this.unloadable(key, group)) continue;
      this.unload(key, group);
      count++;
    }
    return count;
  }

  /** Unload least recently used groups beyond the cap (pending loads, busy and kept groups stay). */
  private trim(): void {
    for (const key of [...this.entries.keys()]) {
      if (this.entries.size <= this.options.maxLoaded) break;
      const group = this.settled.get(key);
      if (group !== undefined && this.unloadable(key, group)) this.unload(key, group);
    }
  }

  private unloadable(key: string, group: G): boolean {
    return !group.pinned && !(this.options.keep?.(key) ?? false);
  }

  private unload(key: string, group: G): void {
    this.drop(key);
    if (group.removed) return;
    this.unloaded.set(key, new WeakRef(group));
    this.collected.register(group, key);
  }

  private drop(key: string): void {
    this.entries.delete(key);
    this.settled.delete(key);
    this.usedAt.delete(key);
  }
}
