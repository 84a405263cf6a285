import { Platform, RoomUri, UserUri } from '../../src/common/ids';
import { DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { InboundEvent, LegacyUserRef, MessageAction, ParticipantRole } from '../../src/ports';
import type { RoomEventInfo } from '../../src/rooms';
import { legacyUserUri } from '../../src/rooms';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { admin, found, GatewayPair, GatewayUnderTest, memoryRoom } from './gateway-pair';

/**
 * A room that grows one member at a time, on both sides: every add is a commit with a Welcome,
 * and every later joiner must be able to join from the ratchet tree it gets, read what follows
 * and be read, with both gateways keeping the same history.
 */
const ROOM_ID = '!growing:a.example';
const A_USERS = ['alice', 'ann', 'abe'].map((userId): LegacyUserRef => ({ platform: Platform.Memory, userId }));
const B_USERS = ['bob', 'bea', 'ben', 'bo'].map((userId): LegacyUserRef => ({ platform: Platform.Memory, userId }));
const uriOf = (domain: string, u: LegacyUserRef): UserUri => legacyUserUri(domain, 'memory', u.userId);

let seq = 0;
const eventId = (): string => `$grow-${++seq}`;
const post = (text: string): MessageAction => ({ type: 'post', body: { kind: 'text', text } });

async function history(gw: GatewayUnderTest, roomUri: RoomUri): Promise<RoomEventInfo[]> {
  const res = await admin<RoomEventInfo[]>(gw, 'GET', `/provisioning/rooms/${encodeURIComponent(roomUri)}/events`);
  return res.status === 200 ? res.body : [];
}

async function localMembers(gw: GatewayUnderTest, roomUri: RoomUri): Promise<readonly string[]> {
  const res = await admin<{ roomUri: string; localMembers: string[] }[]>(gw, 'GET', '/provisioning/rooms');
  return res.body.find((r) => r.roomUri === roomUri)?.localMembers ?? [];
}

describe('a MIMI room growing one member at a time', () => {
  let pair: GatewayPair;
  let roomUri: RoomUri;

  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite');
    const room = pair.a.platform.createRoom(ROOM_ID, 'Growing');
    for (const u of A_USERS) room.members.set(u.userId, { user: u, role: ParticipantRole.Member });
    const res = await admin<{ roomUri: RoomUri }>(pair.a, 'POST', '/provisioning/rooms', {
      platform: 'memory',
      roomId: ROOM_ID,
    });
    roomUri = res.body.roomUri;
  }, 60_000);

  afterAll(() => pair.stop());

  it('lets every joiner, on either side, read and be read after each add', async () => {
    const mirror = `${MIRROR_PREFIX}${roomUri}`;
    for (const [i, bUser] of B_USERS.entries()) {
      // A B user is invited (an add + Welcome), then an A user speaks for the first time (their
      // puppet is added too), so the tree grows on both sides between joins.
      const invite: InboundEvent = {
        kind: 'membership',
        room: memoryRoom(ROOM_ID),
        platformEventId: eventId(),
        user: { userUri: uriOf(DOMAIN_B, bUser) },
        membership: 'invite',
        by: A_USERS[0],
        timestamp: Date.now(),
      };
      await pair.a.platform.emitEvent(invite);
      await found(
        async () => ((await localMembers(pair.b, roomUri)).includes(uriOf(DOMAIN_B, bUser)) ? true : undefined),
        `${bUser.userId} joined on B`,
      );
      const speaker = A_USERS[i % A_USERS.length]!;
      const fromA = `round ${i}: ${speaker.userId} on A`;
      await pair.a.platform.emitLocal(ROOM_ID, speaker, post(fromA), eventId());
      const fromB = `round ${i}: ${bUser.userId} on B`;
      await found(
        async () => ((await history(pair.b, roomUri)).some((e) => e.content.text === fromA) ? true : undefined),
        fromA,
      );
      await pair.b.platform.emitLocal(mirror, bUser, post(fromB), eventId());
      await found(
        async () => ((await history(pair.a, roomUri)).some((e) => e.content.text === fromB) ? true : undefined),
        fromB,
      );
      // The A side shows B's post from B's user's ghost.
      const onA = pair.a.platform.rooms
        .get(ROOM_ID)!
        .timeline.find((e) => e.kind === 'message' && e.action.type === 'post' && e.action.body.text === fromB);
      expect(onA && 'sender' in onA && onA.sender).toEqual({ userUri: uriOf(DOMAIN_B, bUser) });
    }
    const onB = await history(pair.b, roomUri);
    const onAHistory = await history(pair.a, roomUri);
    expect(onB.map((e) => e.messageId)).toEqual(onAHistory.map((e) => e.messageId));
    expect(onB).toHaveLength(2 * B_USERS.length);
  });
});
