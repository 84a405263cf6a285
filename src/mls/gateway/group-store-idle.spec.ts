import type { UserUri } from '../../common/ids';
import type { InMemoryMlsStorage } from '../mls-storage';
import type { GatewayProcessed } from './types';
import { collectGarbage, groupIdOf, puppet, scaledGroup, TEXT, UTF8 } from './gateway.fixtures';
import type { GroupStore } from './group-store';
import type { GatewayGroup } from './gateway-group';

const MINUTE = 60_000;
const IDLE_MS = 5 * MINUTE;

function text(p: GatewayProcessed): string {
  if (p.kind !== 'application') throw new Error(`expected application, got ${p.kind}`);
  return UTF8.decode(p.plaintext);
}

async function snapshot(storage: InMemoryMlsStorage): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const key of await storage.list('')) out.set(key, (await storage.get(key))!);
  return out;
}

describe('GroupStore: idle groups and identities unloaded, reloaded on use', () => {
  let now: number;
  let hub: GroupStore;
  let storage: InMemoryMlsStorage;
  let followerGroup: GatewayGroup;
  let reads: () => number;
  const groupId = groupIdOf('idle');
  const alice: UserUri = puppet(0);

  beforeEach(async () => {
    now = 1_000_000;
    // Only what the test needs is kept: the hub's group object itself is not held here.
    const s = await scaledGroup('idle', 2, 1, { idleClock: () => now });
    hub = s.hub;
    storage = s.hubStorage.inner;
    followerGroup = s.followerGroup!;
    const counting = s.hubStorage;
    reads = () => counting.reads;
  });

  async function send(body: string): Promise<string> {
    const group = (await hub.group(groupId))!;
    return text(await followerGroup.processMessage(await group.encrypt(alice, TEXT.encode(body))));
  }

  it('unloads an idle group and its puppets, and a message in it afterwards reads them back', async () => {
    expect(await send('before')).toBe('before');
    now += IDLE_MS - 1;
    expect(hub.unloadIdle(IDLE_MS)).toEqual({ groups: 0, identities: 0 });
    now += 1;
    const unloaded = hub.unloadIdle(IDLE_MS);
    expect(unloaded.groups).toBe(1);
    expect(unloaded.identities).toBeGreaterThanOrEqual(1);
    expect(hub.loadedCount).toBe(0);
    expect(hub.identities.cachedCount).toBe(0);
    await collectGarbage();

    const readsBefore = reads();
    expect(await send('after')).toBe('after');
    expect(reads()).toBeGreaterThan(readsBefore);
    expect(hub.loadedCount).toBe(1);
  });

  it('never sends twice with one generation, even when the reloaded group brings back an older stored ratchet', async () => {
    const before = await snapshot(storage);
    expect(await send('first')).toBe('first');
    // The ratchet rows written by that send go back to what they were (as after a lost write):
    // the group reloaded from storage would send with the generation "first" used.
    for (const key of (await snapshot(storage)).keys()) {
      const old = before.get(key);
      if (old === undefined) await storage.delete(key);
      else await storage.put(key, old);
    }
    now += IDLE_MS;
    expect(hub.unloadIdle(IDLE_MS).groups).toBe(1);
    await collectGarbage();

    // The follower has used up the key of that generation: a repeat would not decrypt.
    expect(await send('second')).toBe('second');
    expect(await send('third')).toBe('third');
  });

  it('does not unload a group holding a staged commit', async () => {
    const group = (await hub.group(groupId))!;
    await group.rotateLeafKey(puppet(1));
    now += IDLE_MS;
    expect(hub.unloadIdle(IDLE_MS).groups).toBe(0);
    await group.discardStagedCommit();
    expect(hub.unloadIdle(IDLE_MS).groups).toBe(1);
  });
});
