/**
 * Issue 10 item 6: unlinking tells the followers. Two in-process gateways (A hubs a memory room,
 * B follows with two of its users), mutual TLS. Unlinking on A: the hub's bot removes B's clients
 * and participants in one commit giving the reason, B's users' ghosts leave A's room, B stops
 * following the room and its mirror room says the room was unlinked at its hub and is closed for
 * posting; a later post there reaches nothing on A.
 */
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import { type LegacyUserRef, ParticipantRole } from '../../src/ports';
import { type RoomInfo, legacyUserUri } from '../../src/rooms';
import { GHOST_PREFIX, MIRROR_PREFIX } from '../fakes/memory-platform';
import { DOMAIN_A, DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { DATABASE_KINDS } from '../support/test-data-source';
import { GatewayPair, admin, eventually, found, linkMemoryRoom, inviteOnA } from './gateway-pair';

const ROOM_ID = '!unlinked:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const BOB: LegacyUserRef = { platform: Platform.Memory, userId: 'bob' };
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');
const CAROL_URI = legacyUserUri(DOMAIN_B, 'memory', 'carol');

let pair: GatewayPair;
let roomUri: RoomUri;
let seq = 0;

async function roomInfo(gw: GatewayPair['a']): Promise<RoomInfo | undefined> {
  return (await admin<RoomInfo[]>(gw, 'GET', '/provisioning/rooms')).body.find((r) => r.roomUri === roomUri);
}

async function invite(user: UserUri): Promise<void> {
  await inviteOnA(pair, ROOM_ID, ALICE, user, `$invite-${++seq}`);
  await eventually(async () => expect((await roomInfo(pair.b))?.localMembers).toContain(user));
}

describe.each(DATABASE_KINDS)('unlinking a hubbed room tells its followers, on %s', (kind) => {
  beforeAll(async () => {
    pair = await GatewayPair.start(kind);
    const room = pair.a.platform.createRoom(ROOM_ID, 'To be unlinked');
    room.members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    roomUri = await linkMemoryRoom(pair.a, ROOM_ID);
    await invite(BOB_URI);
    await invite(CAROL_URI);
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it("removes B's clients and participants with the reason; B's mirror room says so and is closed", async () => {
    const mirrorId = `${MIRROR_PREFIX}${roomUri}`;
    const aRoom = pair.a.platform.rooms.get(ROOM_ID)!;
    expect(aRoom.members.has(`${GHOST_PREFIX}${BOB_URI}`)).toBe(true);
    const res = await admin(pair.a, 'DELETE', `/provisioning/rooms/${encodeURIComponent(roomUri)}`);
    expect(res.status).toBeLessThan(300);

    // B: the room is no longer followed, the mirror room says why and is closed for posting.
    await eventually(async () => expect(await roomInfo(pair.b)).toBeUndefined());
    const mirror = await found(() => {
      const r = pair.b.platform.rooms.get(mirrorId);
      return r?.closedNotice === undefined ? undefined : r;
    }, 'the closed mirror room');
    expect(mirror.closedNotice).toBe(
      `This room was unlinked at its hub ${DOMAIN_A} (unlinked by the operator). Nothing posted here is delivered any more.`,
    );
    expect(pair.b.platform.notices).toContainEqual({ room: mirrorId, about: '', text: mirror.closedNotice });

    // A: the link is gone, B's users' ghosts left the legacy room, alice stays.
    expect(await roomInfo(pair.a)).toBeUndefined();
    expect(aRoom.members.has(`${GHOST_PREFIX}${BOB_URI}`)).toBe(false);
    expect(aRoom.members.has(`${GHOST_PREFIX}${CAROL_URI}`)).toBe(false);
    expect(aRoom.members.has(ALICE.userId)).toBe(true);

    // A post in the closed mirror reaches nothing on A (the sink has handled it when emitLocal resolves).
    const before = aRoom.timeline.length;
    await pair.b.platform.emitLocal(mirrorId, BOB, { type: 'post', body: { kind: 'text', text: 'anyone?' } });
    expect(aRoom.timeline.length).toBe(before);
  });
});
