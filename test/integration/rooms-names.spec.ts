import { Platform, RoomUri } from '../../src/common/ids';
import { DOMAIN_A, DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { InboundEvent, LegacyUserRef, MessageAction, ParticipantRole } from '../../src/ports';
import { legacyUserUri } from '../../src/rooms';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { admin, found, GatewayPair, type GatewayUnderTest } from './gateway-pair';

/**
 * Names and emotes between two gateways (memory platforms): a sender's display name rides on each
 * message (senderProfile, docs/EXTENSIONS.md) and the receiving gateway gives it to its bridge
 * (`Profiles.setProfile`) before the ghost posts; an emote crosses as a "/me " text.
 */
const ROOM_ID = '!names:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice', displayName: 'Alice Liddell' };
const BOB: LegacyUserRef = { platform: Platform.Memory, userId: 'bob', displayName: 'Bobby' };
const ALICE_URI = legacyUserUri(DOMAIN_A, 'memory', 'alice');
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');

type MessageEvent = Extract<InboundEvent, { kind: 'message' }>;

function shown(gw: GatewayUnderTest, roomId: string, text: string): Promise<MessageEvent> {
  return found(
    () =>
      gw.platform.rooms
        .get(roomId)
        ?.timeline.find(
          (e): e is MessageEvent =>
            e.kind === 'message' && e.action.type === 'post' && e.action.body.text === text && 'userUri' in e.sender,
        ),
    `"${text}" on ${gw.domain}`,
  );
}

/** The ghost that showed `text` on `gw` stands for `userUri` and carries `displayName`. */
async function expectShownAs(gw: GatewayUnderTest, roomId: string, text: string, userUri: string, displayName: string) {
  expect((await shown(gw, roomId, text)).sender).toEqual({ userUri, displayName });
}

const post = (text: string, kind: 'text' | 'emote' = 'text'): MessageAction => ({
  type: 'post',
  body: { kind, text },
});

describe('display names and emotes across two gateways', () => {
  let pair: GatewayPair;
  let roomUri: RoomUri;
  let mirror: string;

  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite');
    pair.a.platform
      .createRoom(ROOM_ID, 'Names')
      .members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    roomUri = (
      await admin<{ roomUri: RoomUri }>(pair.a, 'POST', '/provisioning/rooms', { platform: 'memory', roomId: ROOM_ID })
    ).body.roomUri;
    await admin(pair.a, 'POST', `/provisioning/rooms/${encodeURIComponent(roomUri)}/invite`, { userUri: BOB_URI });
    mirror = `${MIRROR_PREFIX}${roomUri}`;
    await found(() => pair.b.platform.rooms.get(mirror), 'the mirror room on B');
  }, 60_000);

  afterAll(() => pair.stop());

  it('a hub user’s name reaches the follower’s ghost, and a rename follows with the next message', async () => {
    const setProfile = jest.spyOn(pair.b.platform, 'setProfile');
    await pair.a.platform.emitLocal(ROOM_ID, ALICE, post('hello, named'));
    await expectShownAs(pair.b, mirror, 'hello, named', ALICE_URI, 'Alice Liddell');
    await pair.a.platform.emitLocal(ROOM_ID, ALICE, post('again, same name'));
    await shown(pair.b, mirror, 'again, same name');
    expect(setProfile).toHaveBeenCalledTimes(1);
    expect(setProfile).toHaveBeenLastCalledWith({ userUri: ALICE_URI, displayName: 'Alice Liddell' });

    await pair.a.platform.emitLocal(ROOM_ID, { ...ALICE, displayName: 'Alice L.' }, post('waves', 'emote'));
    const emote = await shown(pair.b, mirror, 'waves');
    expect(emote.sender).toEqual({ userUri: ALICE_URI, displayName: 'Alice L.' });
    expect(emote.action).toEqual(post('waves', 'emote'));
    expect(setProfile).toHaveBeenCalledTimes(2);
  });

  it('a follower user’s name reaches the hub’s ghost', async () => {
    const setProfile = jest.spyOn(pair.a.platform, 'setProfile');
    await pair.b.platform.emitLocal(mirror, BOB, post('hi from bob, named'));
    await expectShownAs(pair.a, ROOM_ID, 'hi from bob, named', BOB_URI, 'Bobby');
    expect(setProfile).toHaveBeenCalledWith({ userUri: BOB_URI, displayName: 'Bobby' });
  });
});
