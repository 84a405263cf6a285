import { randomBytes } from 'node:crypto';
import type { ProviderDomain, UserUri } from '../common/ids';
import { InMemoryMlsStorage } from '../mls';
import { KEY_PACKAGE_REISSUE_MS, KeyPackagePool, type KeyPackageSource } from './key-package-pool';

const HUB = 'hub.example' as ProviderDomain;
const OTHER = 'other.example' as ProviderDomain;
const ALICE = 'mimi://gw.test/u/memory:alice' as UserUri;

/** KeyPackages as random bytes; `use` plays the Welcome that consumes one. */
class FakeSource implements KeyPackageSource {
  readonly unused = new Map<string, Uint8Array>();
  created = 0;
  async create(): Promise<{ ref: Uint8Array; keyPackage: Uint8Array }> {
    this.created++;
    const ref = randomBytes(16);
    const keyPackage = randomBytes(32);
    this.unused.set(ref.toString('base64url'), keyPackage);
    return { ref, keyPackage };
  }
  async unusedRefs(): Promise<string[]> {
    return [...this.unused.keys()];
  }
  async discard(_user: UserUri, ref: Uint8Array): Promise<void> {
    this.unused.delete(Buffer.from(ref).toString('base64url'));
  }
  use(keyPackage: Uint8Array): void {
    for (const [ref, kp] of this.unused) if (Buffer.from(kp).equals(Buffer.from(keyPackage))) this.unused.delete(ref);
  }
}

describe('KeyPackagePool', () => {
  let source: FakeSource;
  let pool: KeyPackagePool;
  beforeEach(() => {
    source = new FakeSource();
    pool = new KeyPackagePool(new InMemoryMlsStorage(), source, 3);
  });

  it('answers a replayed request with the same KeyPackage and stores nothing more', async () => {
    const first = await pool.issue(HUB, ALICE, 'mimi://hub.example/r/club', 0);
    for (let i = 0; i < 50; i++) {
      expect(await pool.issue(HUB, ALICE, 'mimi://hub.example/r/club', i)).toEqual(first);
    }
    expect(source.created).toBe(1);
  });

  it('makes at most `bound` KeyPackages per (provider, user), whatever the rooms named', async () => {
    const issued = new Set<string>();
    for (let i = 0; i < 40; i++) {
      issued.add(Buffer.from(await pool.issue(HUB, ALICE, `mimi://hub.example/r/${i}`, 0)).toString('hex'));
    }
    expect(source.created).toBe(3);
    expect(issued.size).toBe(3);
    // Another provider has its own bound.
    await pool.issue(OTHER, ALICE, 'mimi://other.example/r/x', 0);
    expect(source.created).toBe(4);
  });

  it('issues a new one once the hub used the previous one', async () => {
    const first = await pool.issue(HUB, ALICE, 'mimi://hub.example/r/club', 0);
    source.use(first);
    const second = await pool.issue(HUB, ALICE, 'mimi://hub.example/r/club', 1);
    expect(second).not.toEqual(first);
    expect(source.created).toBe(2);
  });

  it('re-issues one that is getting old and discards the old one', async () => {
    const first = await pool.issue(HUB, ALICE, 'mimi://hub.example/r/club', 0);
    const later = await pool.issue(HUB, ALICE, 'mimi://hub.example/r/club', KEY_PACKAGE_REISSUE_MS);
    expect(later).not.toEqual(first);
    expect(source.unused.size).toBe(1);
  });
});
