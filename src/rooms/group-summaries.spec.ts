import { InMemoryMlsStorage } from '../mls';
import { GroupStore } from '../mls/gateway/group-store';
import { bot, groupIdOf, hubSender, participant, puppet } from '../mls/gateway/gateway.fixtures';
import { GroupSummaries } from './group-summaries';

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
