/**
 * Edges of the gateway layer: the hub's external proposals, a staged commit that comes back or
 * loses the race, write ordering (no ciphertext without its stored ratchet), a group every local
 * member of which is removed, KeyPackages used once.
 */
import { cipherSuiteById } from '../core/crypto';
import { externalProposalMessage, propose } from '../core/group';
import { InMemoryMlsStorage } from '../mls-storage';
import { bot, groupIdOf, hubKey, participant, puppet, remote, scaledGroup, TEXT, UTF8 } from './gateway.fixtures';
import { GroupStore } from './group-store';
import { gatewayKeys } from './keys';

describe('gateway layer edges', () => {
  it("queues the hub's external Remove and commits it with the next commit", async () => {
    const key = hubKey();
    const store = new GroupStore(new InMemoryMlsStorage());
    const g = await store.createGroup({
      groupId: groupIdOf('ext'),
      creator: bot(),
      hub: key.sender,
      participants: [participant(bot())],
    });
    await g.commit(bot(), { addLocal: [puppet(1), puppet(2)] });
    const leaf = g.localMember(puppet(2))!.leafIndex;
    const proposal = externalProposalMessage(
      cipherSuiteById(1),
      { groupId: g.groupId, epoch: g.epoch },
      0,
      key.privateKey,
      propose.remove(leaf),
    );
    const seen = await g.processMessage(proposal);
    expect(seen.kind).toBe('proposal');
    // The queue survives a restart.
    const again = (await new GroupStore(store.storage).group(g.groupId))!;
    expect(again.summary().pendingProposals).toBe(1);
    const commit = await again.commit(bot(), {});
    expect(commit.effects.removedLeaves).toEqual([leaf]);
    expect(again.isLocalMember(puppet(2))).toBe(false);
    expect(again.summary().pendingProposals).toBe(0);
  });

  it('merges a staged commit that comes back, and drops one that lost the race', async () => {
    const x = await scaledGroup('race', 2, 1);
    const f = x.followerGroup!;
    const mine = await x.group.stageCommit(bot(), {
      participants: [...x.group.summary().participants, participant(puppet(7))],
    });
    const theirs = await f.stageCommit(remote(0), { forcePath: true });
    expect(await f.processMessage(mine.commit)).toMatchObject({ kind: 'commit', discardedStagedCommit: true });
    expect(await x.group.processMessage(mine.commit)).toMatchObject({ kind: 'commit', ownCommit: true });
    expect(theirs.epoch).toBe(x.group.epoch);
    expect(f.epoch).toBe(x.group.epoch);
    await expect(f.mergeStagedCommit()).rejects.toThrow(/no staged commit/);
  });

  it('stores the sending ratchet before a ciphertext is returned', async () => {
    const x = await scaledGroup('crash', 2, 1);
    const put = x.hubStorage.put.bind(x.hubStorage);
    x.hubStorage.put = () => Promise.reject(new Error('disk full'));
    await expect(x.group.encrypt(puppet(0), TEXT.encode('lost'))).rejects.toThrow('disk full');
    x.hubStorage.put = put;
    // After a restart the member sends a generation the follower has not seen: no reuse.
    const restarted = (await new GroupStore(x.hubStorage.inner).group(x.group.groupId))!;
    const ct = await restarted.encrypt(puppet(0), TEXT.encode('kept'));
    expect(await x.followerGroup!.processMessage(ct)).toMatchObject({ kind: 'application', sender: puppet(0) });
  });

  it('never sends a generation twice when a reload brings back a ratchet from before a sent message', async () => {
    const x = await scaledGroup('reload', 2, 1);
    // The advance of the first message is lost to storage (as by a rolled-back transaction
    // whose ciphertext had left all the same); the group is dropped and reloaded.
    const put = x.hubStorage.put.bind(x.hubStorage);
    x.hubStorage.put = () => Promise.resolve();
    const first = await x.group.encrypt(puppet(0), TEXT.encode('first'));
    x.hubStorage.put = put;
    x.hub.forget(x.group.groupId);
    const reloaded = (await x.hub.group(x.group.groupId))!;
    expect(reloaded).not.toBe(x.group);
    const second = await reloaded.encrypt(puppet(0), TEXT.encode('second'));
    // A reused (epoch, leaf, generation) would be refused by the receiver as already used.
    for (const [ct, text] of [
      [first, 'first'],
      [second, 'second'],
    ] as const) {
      const seen = await x.followerGroup!.processMessage(ct);
      expect(seen).toMatchObject({ kind: 'application', sender: puppet(0) });
      expect(UTF8.decode((seen as { plaintext: Uint8Array }).plaintext)).toBe(text);
    }
  });

  it('deletes a group whose every local member a commit removed', async () => {
    const x = await scaledGroup('gone', 1, 1);
    const removal = await x.group.commit(bot(), { removeUsers: [remote(0)] });
    const seen = await x.followerGroup!.processMessage(removal.commit);
    expect(seen).toMatchObject({ kind: 'commit', groupGone: true, removedLocalUsers: [remote(0)] });
    expect(await x.followerStorage.list(gatewayKeys.groupPrefix(x.group.groupId))).toEqual([]);
    expect(await x.follower.hasGroup(x.group.groupId)).toBe(false);
  });

  it('adds our own published KeyPackage as a local member at merge, and uses it once', async () => {
    const store = new GroupStore(new InMemoryMlsStorage());
    const g = await store.createGroup({
      groupId: groupIdOf('own-kp'),
      creator: bot(),
      hub: hubKey().sender,
      participants: [participant(bot())],
    });
    const kp = await store.createKeyPackage(puppet(3));
    await g.commit(bot(), { add: [kp.keyPackage] });
    expect(g.isLocalMember(puppet(3))).toBe(true);
    expect(await store.storage.list(gatewayKeys.keyPackagePrefix(puppet(3)))).toEqual([]);
    // A second gateway on a copy of the storage holds the same group and reads puppet 3's message.
    const copy = new InMemoryMlsStorage();
    for (const k of await store.storage.list('')) await copy.put(k, (await store.storage.get(k))!);
    const mirror = (await new GroupStore(copy).group(g.groupId))!;
    expect(mirror.isLocalMember(puppet(3))).toBe(true);
    const ct = await g.encrypt(puppet(3), TEXT.encode('me'));
    expect(await mirror.processMessage(ct)).toMatchObject({ kind: 'application', sender: puppet(3) });
  });

  it('reads a late application message of the previous epoch, named by its sender while the key holds', async () => {
    const x = await scaledGroup('late', 3, 1);
    const late = await x.followerGroup!.encrypt(remote(0), TEXT.encode('sent before the commit'));
    const commit = await x.group.commit(bot(), {
      participants: [...x.group.summary().participants, participant(puppet(9))],
    });
    await x.followerGroup!.processMessage(commit.commit);
    const got = await x.group.processMessage(late);
    expect(got).toMatchObject({ kind: 'application', epoch: commit.epoch - 1n, sender: remote(0) });
  });

  it('registers a second follower user into the held group from a later Welcome', async () => {
    const x = await scaledGroup('later', 2, 1);
    const f = x.followerGroup!;
    const kp = await x.follower.createKeyPackage(remote(1));
    const add = await x.group.commit(bot(), {
      add: [kp.keyPackage],
      participants: [...x.group.summary().participants, participant(remote(1))],
    });
    await f.processMessage(add.commit);
    expect(await x.follower.joinFromWelcome(remote(1), add.welcome!)).toBe(f);
    expect(f.summary().localMembers.map((m) => m.user)).toEqual([remote(0), remote(1)]);
    // Once remote(0) is gone, the follower decrypts the next path with remote(1)'s Welcome keys.
    const removal = await x.group.commit(bot(), { removeUsers: [remote(0)] });
    expect(await f.processMessage(removal.commit)).toMatchObject({ removedLocalUsers: [remote(0)], groupGone: false });
    const rotate = await x.group.commit(bot(), { forcePath: true });
    await f.processMessage(rotate.commit);
    expect(f.exportSecret('t', new Uint8Array(0), 8)).toEqual(x.group.exportSecret('t', new Uint8Array(0), 8));
    const ct = await f.encrypt(remote(1), TEXT.encode('second'));
    expect(await x.group.processMessage(ct)).toMatchObject({ kind: 'application', sender: remote(1) });
  });

  it('retires a group whose commit write failed half-way; the store reloads what storage holds', async () => {
    const x = await scaledGroup('half', 2, 0);
    const epoch = x.group.epoch;
    const put = x.hubStorage.put.bind(x.hubStorage);
    let puts = 0;
    x.hubStorage.put = (k, v) => (++puts === 2 ? Promise.reject(new Error('connection lost')) : put(k, v));
    await expect(x.group.commit(bot(), { forcePath: true })).rejects.toThrow('connection lost');
    x.hubStorage.put = put;
    await expect(x.group.encrypt(puppet(0), TEXT.encode('x'))).rejects.toThrow(/unloaded/);
    const reloaded = (await x.hub.group(x.group.groupId))!;
    expect(reloaded).not.toBe(x.group);
    expect(reloaded.epoch).toBe(epoch);
    await reloaded.commit(bot(), { forcePath: true });
    expect(reloaded.epoch).toBe(epoch + 1n);
  });

  it("previews a follower's commit for authorisation, then applies that very result", async () => {
    const x = await scaledGroup('preview', 2, 1);
    const f = x.followerGroup!;
    const kp = await x.follower.createKeyPackage(remote(1));
    const after = [...f.summary().participants, participant(remote(1))];
    const theirs = await f.stageCommit(remote(0), {
      add: [kp.keyPackage],
      removeUsers: [puppet(1)],
      participants: after,
    });
    const preview = await x.group.previewCommit(theirs.commit);
    expect(preview).toMatchObject({
      verdict: 'ok',
      committer: remote(0),
      external: false,
      addedUsers: [remote(1)],
      removedUsers: [puppet(1)],
      participantsAfter: after,
    });
    expect(x.group.epoch).toBe(preview.currentEpoch);
    expect(await x.group.processMessage(theirs.commit)).toMatchObject({
      kind: 'commit',
      removedLocalUsers: [puppet(1)],
    });
    await f.mergeStagedCommit();
    expect(await x.group.previewCommit(theirs.commit)).toMatchObject({
      verdict: 'wrongEpoch',
      messageEpoch: preview.currentEpoch,
    });

    const info = await x.group.groupInfo();
    const joined = await new GroupStore(new InMemoryMlsStorage()).joinExternal(
      remote(7, 'third.example' as never),
      info.groupInfo,
      {
        ratchetTree: info.ratchetTree,
      },
    );
    expect(await x.group.previewCommit(joined.commit)).toMatchObject({
      verdict: 'ok',
      external: true,
      committer: remote(7, 'third.example' as never),
      addedUsers: [remote(7, 'third.example' as never)],
    });
  });
});
