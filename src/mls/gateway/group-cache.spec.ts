import { GroupCache } from './group-cache';
import { collectGarbage } from './gateway.fixtures';

class FakeGroup {
  pinned = false;
  removed = false;
  constructor(readonly name: string) {}
}

const MINUTE = 60_000;

describe('GroupCache', () => {
  let now: number;
  let loads: string[];
  let uncommitted: Set<string>;
  let cache: GroupCache<FakeGroup>;
  const load = (key: string) => () => {
    loads.push(key);
    return Promise.resolve(key.startsWith('none') ? undefined : new FakeGroup(key));
  };
  const get = (key: string) => cache.get(key, load(key));

  beforeEach(() => {
    now = 1_000_000;
    loads = [];
    uncommitted = new Set();
    cache = new GroupCache({ maxLoaded: 3, now: () => now, keep: (k) => uncommitted.has(k) });
  });

  it('loads a group once and hands out the same object while it is loaded', async () => {
    const a = (await get('a'))!;
    expect(await get('a')).toBe(a);
    expect(loads).toEqual(['a']);
    expect(cache.size).toBe(1);
  });

  it('does not cache a group storage does not hold', async () => {
    expect(await get('none')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('unloads only the groups idle for the idle time', async () => {
    await get('a');
    now += 4 * MINUTE;
    await get('b');
    now += 2 * MINUTE;
    expect(cache.unloadIdle(5 * MINUTE)).toBe(1);
    expect(cache.loaded().map((g) => g.name)).toEqual(['b']);
    now += 5 * MINUTE;
    expect(cache.unloadIdle(5 * MINUTE)).toBe(1);
    expect(cache.size).toBe(0);
  });

  it('keeps busy groups and groups written by an open transaction, however idle', async () => {
    const a = (await get('a'))!;
    await get('b');
    await get('c');
    a.pinned = true;
    uncommitted.add('b');
    now += 60 * MINUTE;
    expect(cache.unloadIdle(5 * MINUTE)).toBe(1);
    expect(cache.loaded().map((g) => g.name)).toEqual(['a', 'b']);
    a.pinned = false;
    uncommitted.clear();
    expect(cache.unloadIdle(5 * MINUTE)).toBe(2);
  });

  it('a peek does not count as a use', async () => {
    const a = (await get('a'))!;
    now += 10 * MINUTE;
    expect(cache.peek('a')).toBe(a);
    expect(cache.unloadIdle(5 * MINUTE)).toBe(1);
    expect(cache.peek('a')).toBeUndefined();
  });

  it('still unloads the least recently used beyond the size cap', async () => {
    await get('a');
    await get('b');
    await get('c');
    await get('a');
    await get('d');
    expect(
      cache
        .loaded()
        .map((g) => g.name)
        .sort(),
    ).toEqual(['a', 'c', 'd']);
  });

  it('hands an unloaded group still held by work in flight out again instead of loading a second copy', async () => {
    const held = await get('a');
    now += 10 * MINUTE;
    cache.unloadIdle(5 * MINUTE);
    await collectGarbage();
    expect(await get('a')).toBe(held);
    expect(loads).toEqual(['a']);
  });

  it('loads an unloaded group from storage once nothing holds it', async () => {
    await get('a');
    now += 10 * MINUTE;
    expect(cache.unloadIdle(5 * MINUTE)).toBe(1);
    await collectGarbage();
    expect((await get('a'))?.name).toBe('a');
    expect(loads).toEqual(['a', 'a']);
  });

  it('never hands out a group forgotten for cause or retired, even while it is held', async () => {
    const a = (await get('a'))!;
    cache.forget('a');
    expect(await get('a')).not.toBe(a);
    const b = (await get('b'))!;
    now += 10 * MINUTE;
    cache.unloadIdle(5 * MINUTE);
    b.removed = true;
    expect(await get('b')).not.toBe(b);
    expect(loads).toEqual(['a', 'a', 'b', 'b']);
  });
});
