import { InMemoryMlsStorage } from '../mls';
import { GroupStore } from '../mls/gateway/group-store';
import { bot, groupIdOf, hubSender, participant, puppet } from '../mls/gateway/gateway.fixtures';
import type { ProviderDomain, UserUri } from '../common/ids';
import { GroupSummaries, otherDomains } from './group-summaries';

describe(GroupSummaries.name, () => {
  async function room(): Promise<{ store: GroupStore; group: Awaited<ReturnType<GroupStore['createGroup']>> }> {
    const store = new GroupStore(new InMemoryMlsStorage());
    const group = await store.createGroup({
      groupId: groupIdOf('summaries'),
      creator: bot(),
      hub: hubSender(),
      participants: [participant(bot())],
    });
    return { store, group };
  }

  it('summarises a group once per state, and again after a commit changed it', async () => {
    const { group } = await room();
    const summaries = new GroupSummaries();
    const spy = jest.spyOn(group, 'summary');

    const first = summaries.of(group);
    expect(summaries.of(group)).toBe(first);
    expect(spy).toHaveBeenCalledTimes(1);

    await group.commit(bot(), { addLocal: [puppet(1)], participants: [bot(), puppet(1)].map(participant) });
    spy.mockClear();
    const next = summaries.of(group);
    expect(summaries.of(group)).toBe(next);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(next.epoch).toBe(first.epoch + 1n);
    expect(next.participants.map((p) => p.user)).toEqual([bot(), puppet(1)]);
    expect(next.localMembers.map((m) => m.user)).toEqual([bot(), puppet(1)]);
    expect(next).toEqual(group.summary());
  });

  it('keeps summaries of different groups apart', async () => {
    const a = await room();
    const b = await room();
    await b.group.commit(bot(), { addLocal: [puppet(2)], participants: [bot(), puppet(2)].map(participant) });
    const summaries = new GroupSummaries();
    expect(summaries.of(a.group).localMembers).toHaveLength(1);
    expect(summaries.of(b.group).localMembers).toHaveLength(2);
  });
});

describe(otherDomains.name, () => {
  const member = (leafIndex: number, user?: string) => ({
    leafIndex,
    ...(user ? { user: user as UserUri } : {}),
    signatureKey: new Uint8Array(32),
    local: false,
  });
  const A = 'a.example' as ProviderDomain;

  it('lists the other providers with members, sorted, once per members list', () => {
    const members = [
      member(0, 'mimi://a.example/u/gateway-bot'),
      member(1, 'mimi://c.example/u/carol'),
      member(2),
      member(3, 'mimi://b.example/u/bob'),
      member(4, 'mimi://c.example/u/cid'),
    ];
    const first = otherDomains(members, A);
    expect(first).toEqual(['b.example', 'c.example']);
    expect(otherDomains(members, A)).toBe(first);
    expect(otherDomains(members, 'b.example' as ProviderDomain)).toEqual(['a.example', 'c.example']);
    expect(otherDomains([...members, member(5, 'mimi://d.example/u/dan')], A)).toEqual([
      'b.example',
      'c.example',
      'd.example',
    ]);
  });
});
