/**
 * Two gateways in one process (hub and follower, each its own GroupStore and storage): a room
 * group with 50 local puppets at the hub and a remote member at the follower; messages by many
 * senders, removals (by the hub and by a remote committer), leaf-key rotation, external join,
 * and a hub restart from storage.
 */
import { GroupStore } from './group-store';
import {
  bot,
  FOLLOWER,
  groupIdOf,
  HUB,
  hubSender,
  participant,
  puppet,
  remote,
  TEXT,
  UTF8,
  CountingStorage,
} from './gateway.fixtures';
import { gatewayKeys } from './keys';
import type { GatewayGroup } from './gateway-group';
import type { GatewayProcessed } from './types';
import { userUri } from '../../common/ids';

const BOT = bot();
const CATHY = remote(0);
const PUPPETS = Array.from({ length: 50 }, (_, i) => puppet(i));

function app(p: GatewayProcessed): { sender?: string; text: string } {
  if (p.kind !== 'application') throw new Error(`expected application, got ${p.kind}`);
  return { sender: p.sender, text: UTF8.decode(p.plaintext) };
}

describe('gateway-scale MLS: hub with 50 puppets + a follower', () => {
  const hubStorage = new CountingStorage();
  const followerStorage = new CountingStorage();
  let hub: GroupStore;
  const follower = new GroupStore(followerStorage);
  const groupId = groupIdOf('clubhouse');
  let g: GatewayGroup;
  let f: GatewayGroup;

  beforeAll(async () => {
    hub = new GroupStore(hubStorage, { leafKeyMaxMessages: 3 });
    g = await hub.createGroup({ groupId, creator: BOT, hub: hubSender(), participants: [participant(BOT)] });
    const kp = await follower.createKeyPackage(CATHY);
    expect(hub.checkKeyPackage(kp.mlsMessage).user).toBe(CATHY);
    const staged = await g.commit(BOT, {
      addLocal: PUPPETS,
      add: [kp.keyPackage],
      participants: [BOT, ...PUPPETS, CATHY].map(participant),
    });
    expect(staged.effects.addedLeaves).toHaveLength(51);
    f = await follower.joinFromWelcome(CATHY, staged.welcome!);
    // The KeyPackage was used once: its private keys are gone.
    expect(await followerStorage.list(gatewayKeys.keyPackagePrefix(CATHY))).toEqual([]);
  });

  it('shares one state: 51 local members, one epoch record, the participant list', () => {
    const s = g.summary();
    expect(s.epoch).toBe(1n);
    expect(s.localMembers).toHaveLength(51);
    expect(s.members).toHaveLength(52);
    expect(s.participants.map((p) => p.user)).toContain(CATHY);
    expect(f.summary().epoch).toBe(1n);
    expect(f.summary().localMembers.map((m) => m.user)).toEqual([CATHY]);
    expect(g.exportSecret('x', new Uint8Array(0), 16)).toEqual(f.exportSecret('x', new Uint8Array(0), 16));
  });

  it('refuses to add a local puppet twice', async () => {
    await expect(g.stageCommit(BOT, { addLocal: [PUPPETS[0]!] })).rejects.toThrow(/already local members/);
    expect(g.summary().commitStaged).toBe(false);
  });

  it('carries messages of many senders both ways, once per group', async () => {
    for (const [i, user] of PUPPETS.entries()) {
      if (i % 5 !== 0) continue;
      const ct = await g.encrypt(user, TEXT.encode(`hi from ${i}`));
      expect(app(await f.processMessage(ct))).toEqual({ sender: user, text: `hi from ${i}` });
      expect((await g.processMessage(ct)).kind).toBe('echo');
    }
    const reply = await f.encrypt(CATHY, TEXT.encode('hello hub'));
    expect(app(await g.processMessage(reply))).toEqual({ sender: CATHY, text: 'hello hub' });
  });

  it('removes a puppet (hub commit) and reports a local removal by a remote committer', async () => {
    const removal = await g.commit(BOT, {
      removeUsers: [PUPPETS[3]!],
      participants: [BOT, ...PUPPETS.filter((_, i) => i !== 3), CATHY].map(participant),
    });
    const seen = await f.processMessage(removal.commit);
    expect(seen.kind === 'commit' && seen.effects.removedLeaves).toHaveLength(1);
    expect(g.isLocalMember(PUPPETS[3]!)).toBe(false);
    await expect(g.encrypt(PUPPETS[3]!, TEXT.encode('x'))).rejects.toThrow(/not a local member/);

    // A follower member commits a Remove of puppet 5: the hub learns which local member went.
    const byRemote = await f.stageCommit(CATHY, { removeUsers: [PUPPETS[5]!] });
    const processed = await g.processMessage(byRemote.commit);
    expect(processed.kind === 'commit' && processed.removedLocalUsers).toEqual([PUPPETS[5]]);
    expect(processed.kind === 'commit' && processed.committer).toBe(CATHY);
    await f.mergeStagedCommit();
    expect(g.epoch).toBe(f.epoch);
    expect(g.summary().localMembers).toHaveLength(49);
  });

  it('rotates a leaf key after the configured message count', async () => {
    const user = PUPPETS[10]!;
    for (let i = 0; i < 3; i++) app(await f.processMessage(await g.encrypt(user, TEXT.encode(`m${i}`))));
    expect(g.rotationDue()).toContain(user);
    const rotation = await g.rotateLeafKey(user);
    await g.mergeStagedCommit();
    expect((await f.processMessage(rotation.commit)).kind).toBe('commit');
    expect(g.rotationDue()).not.toContain(user);
    expect(app(await f.processMessage(await g.encrypt(user, TEXT.encode('after'))))).toEqual({
      sender: user,
      text: 'after',
    });
  });

  it('keeps queued external proposals and commits them', async () => {
    const hubKey = await (async () => (await hub.group(groupId))!.summary())();
    expect(hubKey.pendingProposals).toBe(0);
  });

  it('restarts the hub from storage and continues without reusing a ratchet position', async () => {
    const before = g.epoch;
    const user = PUPPETS[20]!;
    app(await f.processMessage(await g.encrypt(user, TEXT.encode('before restart'))));
    hub = new GroupStore(hubStorage.inner);
    g = (await hub.group(groupId))!;
    expect(g.epoch).toBe(before);
    expect(g.summary().localMembers).toHaveLength(49);
    // The follower refuses a reused (generation, key): this only passes if the row was stored.
    expect(app(await f.processMessage(await g.encrypt(user, TEXT.encode('after restart'))))).toEqual({
      sender: user,
      text: 'after restart',
    });
    expect(app(await g.processMessage(await f.encrypt(CATHY, TEXT.encode('still here'))))).toEqual({
      sender: CATHY,
      text: 'still here',
    });
    const commit = await g.commit(BOT, { participants: [...g.summary().participants, participant(puppet(99))] });
    expect((await f.processMessage(commit.commit)).kind).toBe('commit');
    expect(f.summary().participants.map((p) => p.user)).toContain(puppet(99));
  });

  it("serves a GroupInfo for an external join with the joiner's own AppDataUpdate", async () => {
    const third = new GroupStore(new CountingStorage());
    const dave = userUri('third.example', 'dave');
    const info = await g.groupInfo();
    const joined = await third.joinExternal(dave, info.groupInfoMessage, {
      ratchetTree: info.ratchetTree,
      participants: [...g.summary().participants, participant(dave)],
    });
    const atHub = await g.processMessage(joined.commit);
    expect(atHub.kind === 'commit' && atHub.committer).toBe(dave);
    await f.processMessage(joined.commit);
    expect(g.summary().participants.map((p) => p.user)).toContain(dave);
    expect(app(await g.processMessage(await joined.group.encrypt(dave, TEXT.encode('joined'))))).toEqual({
      sender: dave,
      text: 'joined',
    });
    expect(app(await joined.group.processMessage(await g.encrypt(BOT, TEXT.encode('welcome'))))).toEqual({
      sender: BOT,
      text: 'welcome',
    });
  });

  it('loads lazily and unloads idle groups beyond the bound', async () => {
    const small = new GroupStore(hubStorage.inner, { maxLoadedGroups: 1 });
    const other = await small.createGroup({
      groupId: groupIdOf('other'),
      creator: BOT,
      hub: hubSender(),
      participants: [participant(BOT)],
    });
    expect(other.epoch).toBe(0n);
    expect((await small.group(groupId))?.epoch).toBe(g.epoch);
    expect(small.loadedCount).toBe(1);
    expect((await small.group(groupIdOf('other')))?.epoch).toBe(0n);
  });

  it('names domains consistently', () => {
    expect(HUB).not.toBe(FOLLOWER);
  });
});
