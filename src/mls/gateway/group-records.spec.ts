/**
 * Incremental group storage (issue 9, "state is saved incrementally"): a commit writes the rows
 * that changed, O(log n) of them for a path commit, not the whole tree; a store started again on
 * the same storage loads the same group, past epoch included; a write that stops half-way leaves
 * a loadable group. Counted through a wrapping MlsStorage; no timings.
 */
import { InMemoryMlsStorage } from '../mls-storage';
import { GroupStore } from './group-store';
import { gatewayKeys } from './keys';
import { bot, CountingStorage, puppet, remote, scaledGroup, TEXT } from './gateway.fixtures';
import type { GatewayGroup } from './gateway-group';

interface PathCommitCost {
  members: number;
  treeBytes: number;
  rows: number[];
  bytes: number[];
}

/** Two path commits in a group of `members` (all local to the hub): a puppet's rotation, the bot's empty commit. */
async function pathCommitCost(members: number): Promise<PathCommitCost> {
  const x = await scaledGroup(`log-${members}`, members - 1, 0);
  const rotate = await x.hubStorage.measure(async () => {
    await x.group.rotateLeafKey(puppet(members - 2));
    await x.group.mergeStagedCommit();
  });
  const empty = await x.hubStorage.measure(() => x.group.commit(bot(), { forcePath: true }));
  return {
    members: x.group.summary().members.length,
    treeBytes: x.group.coreState.tree.toBytes().length,
    rows: [rotate.writes, empty.writes],
    bytes: [rotate.bytes, empty.bytes],
  };
}

/** The group as a new store on the same storage loads it (a restart). */
async function reload(storage: CountingStorage, groupId: Uint8Array): Promise<GatewayGroup> {
  return (await new GroupStore(storage).group(groupId))!;
}

function expectSameState(a: GatewayGroup, b: GatewayGroup): void {
  const [s, t] = [a.coreState, b.coreState];
  expect(t.context).toEqual(s.context);
  expect(Buffer.from(t.tree.toBytes())).toEqual(Buffer.from(s.tree.toBytes()));
  expect(new Map(t.privateKeys)).toEqual(new Map(s.privateKeys));
  expect(t.localLeaves).toEqual(s.localLeaves);
  expect(t.pastEpochs).toEqual(s.pastEpochs);
  expect(t.secrets).toEqual(s.secrets);
  expect(b.summary()).toEqual(a.summary());
}

describe('incremental group storage', () => {
  it('writes O(log n) rows per path commit: 64x the members, not 64x the bytes', async () => {
    const costs: PathCommitCost[] = [];
    for (const n of [16, 128, 1024]) costs.push(await pathCommitCost(n));
    process.stdout.write(`path commit writes ${JSON.stringify(costs)}\n`);
    for (const c of costs) {
      const depth = Math.ceil(Math.log2(c.members));
      // A node and a private key per level of the path and the leaf, the committer's row, the epoch record.
      for (const rows of c.rows) expect(rows).toBeLessThanOrEqual(2 * (depth + 1) + 2);
      for (const bytes of c.bytes) expect(bytes).toBeLessThan(c.treeBytes);
    }
    const [small, , large] = costs as [PathCommitCost, PathCommitCost, PathCommitCost];
    expect(large.treeBytes).toBeGreaterThan(40 * small.treeBytes);
    for (let i = 0; i < 2; i++) {
      // log2(1024) / log2(16) = 2.5; a whole-tree write would be ~64x.
      expect(large.bytes[i]!).toBeLessThan(3 * small.bytes[i]!);
      expect(large.bytes[i]!).toBeLessThan(large.treeBytes / 20);
    }
  }, 120_000);

  it('loads after a restart the state it wrote, and still decrypts a late message of the past epoch', async () => {
    const x = await scaledGroup('reload', 3, 2);
    const f = x.followerGroup!;
    const rotation = await x.group.rotateLeafKey(puppet(0));
    await x.group.mergeStagedCommit();
    await f.processMessage(rotation.commit);
    // A follower message of this epoch arrives after the next commit (a remove: blank leaf and path).
    const late = await f.encrypt(remote(0), TEXT.encode('late'));
    const participants = x.group.summary().participants.filter((p) => p.user !== puppet(2));
    const removal = await x.group.commit(bot(), { removeUsers: [puppet(2)], participants });
    await f.processMessage(removal.commit);

    const hub = await reload(x.hubStorage, x.group.groupId);
    expect(hub).not.toBe(x.group);
    expectSameState(x.group, hub);
    expect(await hub.processMessage(late)).toMatchObject({ kind: 'application', sender: remote(0) });

    // Both directions and a commit still work from the reloaded state.
    const down = await hub.encrypt(puppet(1), TEXT.encode('down'));
    expect(await f.processMessage(down)).toMatchObject({ kind: 'application', sender: puppet(1) });
    const up = await f.encrypt(remote(1), TEXT.encode('up'));
    expect(await hub.processMessage(up)).toMatchObject({ kind: 'application', sender: remote(1) });
    const next = await hub.commit(bot(), { forcePath: true });
    expect(await f.processMessage(next.commit)).toMatchObject({ kind: 'commit' });
    expectSameState(hub, await reload(x.hubStorage, x.group.groupId));

    const follower = await reload(x.followerStorage, f.groupId);
    expectSameState(f, follower);
  });

  it('keeps the new epoch when a commit stopped after its epoch record, and cleans up on the next write', async () => {
    const x = await scaledGroup('after-record', 2, 0);
    const epoch = x.group.epoch;
    const del = x.hubStorage.delete.bind(x.hubStorage);
    x.hubStorage.delete = () => Promise.reject(new Error('connection lost'));
    await expect(x.group.commit(bot(), { forcePath: true })).rejects.toThrow('connection lost');
    x.hubStorage.delete = del;
    const reloaded = (await x.hub.group(x.group.groupId))!;
    expect(reloaded.epoch).toBe(epoch + 1n);
    await reloaded.commit(bot(), { forcePath: true });
    expectSameState(reloaded, await reload(x.hubStorage, x.group.groupId));
    // One row per non-blank node and per private key: the replaced versions are gone.
    const state = reloaded.coreState;
    const nonBlank = Array.from({ length: state.tree.nodeCount }, (_, i) => state.tree.node(i)).filter(Boolean);
    expect(await x.hubStorage.list(gatewayKeys.nodePrefix(x.group.groupId))).toHaveLength(nonBlank.length);
    expect(await x.hubStorage.list(gatewayKeys.privateKeyPrefix(x.group.groupId))).toHaveLength(state.privateKeys.size);
  });

  it('refuses rows that do not match the epoch record, with a clear error', async () => {
    const storage = new InMemoryMlsStorage();
    const store = new GroupStore(storage);
    const x = await scaledGroup('mismatch', 2, 0);
    for (const key of await x.hubStorage.list('')) await storage.put(key, (await x.hubStorage.get(key))!);
    const [someNode] = await storage.list(gatewayKeys.nodePrefix(x.group.groupId));
    await storage.delete(someNode!);
    await expect(store.group(x.group.groupId)).rejects.toThrow(/does not match the tree hash/);
  });
});
