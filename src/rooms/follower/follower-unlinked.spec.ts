import type { ProviderDomain, RoomUri, UserUri } from '../../common/ids';
import { type GatewayProcessed, GroupStore, HubExternalSender, InMemoryMlsStorage, groupIdForRoom } from '../../mls';
import type { RoomRecord } from '../../persistence/repositories/room.repository';
import { unlinkAuthenticatedData } from '../unlink-notice';
import { unlinkedBy } from './follower-unlinked';

const ROOM = 'mimi://a.example/r/unlinked' as RoomUri;
const BOT = 'mimi://a.example/u/gateway-bot' as UserUri;
const room = { roomUri: ROOM, role: 'follower', hubDomain: 'a.example' } as RoomRecord;

async function commitBytes(authenticatedData?: Uint8Array): Promise<Uint8Array> {
  const store = new GroupStore(new InMemoryMlsStorage());
  const group = await store.createGroup({
    groupId: groupIdForRoom(ROOM),
    creator: BOT,
    hub: HubExternalSender.generate('a.example' as ProviderDomain).externalSender,
    participants: [{ user: BOT, roleIndex: 6 }],
  });
  return (await group.commit(BOT, { forcePath: true, ...(authenticatedData ? { authenticatedData } : {}) })).commit;
}

const processed = (over: Partial<Extract<GatewayProcessed, { kind: 'commit' }>> = {}): GatewayProcessed =>
  ({
    kind: 'commit',
    epoch: 2n,
    committerLeaf: 0,
    committer: BOT,
    ownCommit: false,
    discardedStagedCommit: false,
    effects: {} as never,
    removedLocalUsers: [],
    groupGone: true,
    ...over,
  }) as GatewayProcessed;

describe('unlinkedBy (a follower recognises the hub unlink commit)', () => {
  it('reads the reason of a commit of the hub that left us no client', async () => {
    const commit = await commitBytes(unlinkAuthenticatedData('unlinked by the operator'));
    expect(unlinkedBy(room, commit, processed())).toBe('unlinked by the operator');
  });

  it('ignores a commit without the reason, one that leaves us clients, and one committed by another provider', async () => {
    const plain = await commitBytes();
    expect(unlinkedBy(room, plain, processed())).toBeUndefined();
    const unlink = await commitBytes(unlinkAuthenticatedData('x'));
    expect(unlinkedBy(room, unlink, processed({ groupGone: false }))).toBeUndefined();
    expect(unlinkedBy(room, unlink, processed({ committer: 'mimi://b.example/u/mallory' as UserUri }))).toBeUndefined();
    expect(unlinkedBy(room, unlink, undefined)).toBeUndefined();
  });
});
