/**
 * The KeyPackages we hand out on `/keyMaterial`, bounded per (requesting provider, target user)
 * (issue 14: a replayed request made and stored a fresh KeyPackage every time). Each one issued is
 * remembered with the room it was asked for; a request for the same room gets the same one again
 * until the hub uses it (its private keys are then consumed by the Welcome), a request for another
 * room gets a new one while fewer than `bound` are outstanding, and past that one of the
 * outstanding ones. So no request pattern makes us store more than `bound` KeyPackages per
 * (provider, user). Outstanding ones are re-issued after `maxAgeMs`, well inside their lifetime.
 */
import type { ProviderDomain, UserUri } from '../common/ids';
import type { MlsStorage } from '../mls';

/** What the pool needs of the MLS layer's KeyPackages of our users. */
export interface KeyPackageSource {
  /** A fresh KeyPackage of `user`, its private keys stored until used once. */
  create(user: UserUri): Promise<{ ref: Uint8Array; keyPackage: Uint8Array }>;
  /** Refs (base64url) of `user`'s KeyPackages whose private keys are still unused. */
  unusedRefs(user: UserUri): Promise<readonly string[]>;
  /** Forget an unused KeyPackage (its private keys). */
  discard(user: UserUri, ref: Uint8Array): Promise<void>;
}

/** One KeyPackage issued to a provider. */
interface Issued {
  /** KeyPackageRef, base64url. */
  readonly ref: string;
  /** The KeyPackage, base64. */
  readonly keyPackage: string;
  /** The room (KeyMaterialRequest.roomId) it was first issued for. */
  readonly room: string;
  /** When it was made, ms since the epoch. */
  readonly at: number;
}

/** Record key of the KeyPackages issued to `requester` for `target` (outside the MLS layer's `mls2/`). */
const issuedKeyPackagesKey = (requester: ProviderDomain, target: UserUri): string =>
  `keymaterial/${encodeURIComponent(target)}/${encodeURIComponent(requester)}`;

/** Half the default KeyPackage lifetime (28 days): a hub never gets one close to expiry. */
export const KEY_PACKAGE_REISSUE_MS = 14 * 24 * 3600 * 1000;

export class KeyPackagePool {
  constructor(
    private readonly storage: Pick<MlsStorage, 'get' | 'put'>,
    private readonly source: KeyPackageSource,
    private readonly bound: number,
    private readonly maxAgeMs: number = KEY_PACKAGE_REISSUE_MS,
  ) {}

  /**
   * The KeyPackage (bytes) of `target` for `requester`'s request about `room`. Callers serialize
   * calls per (requester, target) and run each in one transaction.
   */
  async issue(requester: ProviderDomain, target: UserUri, room: string, now: number): Promise<Uint8Array> {
    const key = issuedKeyPackagesKey(requester, target);
    const stored = await this.read(key);
    const unused = new Set(await this.source.unusedRefs(target));
    const live: Issued[] = [];
    for (const i of stored) {
      if (!unused.has(i.ref)) continue;
      if (now - i.at < this.maxAgeMs) live.push(i);
      else await this.source.discard(target, Buffer.from(i.ref, 'base64url'));
    }
    const same = live.find((i) => i.room === room);
    let chosen: Issued;
    if (same !== undefined) {
      chosen = same;
    } else if (live.length < this.bound) {
      const made = await this.source.create(target);
      chosen = {
        ref: Buffer.from(made.ref).toString('base64url'),
        keyPackage: Buffer.from(made.keyPackage).toString('base64'),
        room,
        at: now,
      };
      live.push(chosen);
    } else {
      // At the bound: the same room always maps to the same outstanding one, so no write is needed.
      chosen = live[hashIndex(room, live.length)]!;
    }
    if (live.length !== stored.length || live.some((i, n) => i !== stored[n])) await this.write(key, live);
    return new Uint8Array(Buffer.from(chosen.keyPackage, 'base64'));
  }

  private async read(key: string): Promise<Issued[]> {
    const bytes = await this.storage.get(key);
    if (bytes === undefined) return [];
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as Issued[];
  }

  private async write(key: string, issued: readonly Issued[]): Promise<void> {
    await this.storage.put(key, new Uint8Array(Buffer.from(JSON.stringify(issued), 'utf8')));
  }
}

/** A stable index in [0, n) for `s` (FNV-1a). */
function hashIndex(s: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h % n;
}
