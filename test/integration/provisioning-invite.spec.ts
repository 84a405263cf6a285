import { Platform, RoomUri } from '../../src/common/ids';
import { DOMAIN_A, DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { LegacyUserRef, ParticipantRole } from '../../src/ports';
import type { RoomEventInfo } from '../../src/rooms';
import { legacyUserUri } from '../../src/rooms';
import { admin, found, GatewayPair } from './gateway-pair';

/**
 * `POST /provisioning/rooms/{roomUri}/invite`: an operator adds a MIMI user of another provider
 * to a room hubbed here without a platform invite (XMPP relay mode has no JIDs to invite).
 */
const ROOM_ID = '!provisioned:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');
const HELLO = 'hello bob, added by an operator';

const invitePath = (roomUri: string): string => `/provisioning/rooms/${encodeURIComponent(roomUri)}/invite`;

describe('provisioning invite of a remote MIMI user', () => {
  let pair: GatewayPair;
  let roomUri: RoomUri;

  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite');
    pair.a.platform.createRoom(ROOM_ID, 'Provisioned').members.set(ALICE.userId, {
      user: ALICE,
      role: ParticipantRole.Owner,
    });
    roomUri = (
      await admin<{ roomUri: RoomUri }>(pair.a, 'POST', '/provisioning/rooms', { platform: 'memory', roomId: ROOM_ID })
    ).body.roomUri;
  }, 60_000);

  afterAll(() => pair.stop());

  it('adds the user: their provider follows the room and receives what is posted next', async () => {
    const res = await admin(pair.a, 'POST', invitePath(roomUri), { userUri: BOB_URI });
    expect(res).toMatchObject({ status: 200, body: { roomUri, userUri: BOB_URI } });
    const onB = await found(async () => {
      const rooms = await admin<{ roomUri: string; role: string; localMembers: string[] }[]>(
        pair.b,
        'GET',
        '/provisioning/rooms',
      );
      return rooms.body.find((r) => r.roomUri === roomUri && r.localMembers.includes(BOB_URI));
    }, 'bob following the room on B');
    expect(onB.role).toBe('follower');
    await pair.a.platform.emitLocal(ROOM_ID, ALICE, { type: 'post', body: { kind: 'text', text: HELLO } });
    await found(async () => {
      const events = await admin<RoomEventInfo[]>(
        pair.b,
        'GET',
        `/provisioning/rooms/${encodeURIComponent(roomUri)}/events`,
      );
      return events.body.find((e) => e.content.text === HELLO);
    }, 'the message on B');
  });

  it('refuses a user of this provider, a room that does not exist, and a body without a user URI', async () => {
    const own = await admin(pair.a, 'POST', invitePath(roomUri), {
      userUri: legacyUserUri(DOMAIN_A, 'memory', 'carl'),
    });
    expect(own).toMatchObject({ status: 400, body: { errcode: 'MIMI_BAD_VALUE' } });
    const missing = await admin(pair.a, 'POST', invitePath(`mimi://${DOMAIN_A}/r/nope`), { userUri: BOB_URI });
    expect(missing).toMatchObject({ status: 404, body: { errcode: 'MIMI_NOT_FOUND' } });
    const bad = await admin(pair.a, 'POST', invitePath(roomUri), { user: 'bob' });
    expect(bad).toMatchObject({ status: 400, body: { errcode: 'MIMI_BAD_VALUE' } });
  });

  it('refuses a user their provider does not know, with the provider’s reason', async () => {
    const nobody = `mimi://${DOMAIN_B}/u/nobody`;
    const res = await admin(pair.a, 'POST', invitePath(roomUri), { userUri: nobody });
    expect(res).toMatchObject({ status: 404, body: { errcode: 'MIMI_NOT_FOUND' } });
    expect(JSON.stringify(res.body)).toContain(`${nobody} cannot be added: ${DOMAIN_B} has no such user (userUnknown)`);
  });

  it('tells the operator to invite at the hub for a room hubbed elsewhere', async () => {
    const res = await admin(pair.b, 'POST', invitePath(roomUri), {
      userUri: legacyUserUri('c.example', 'memory', 'cy'),
    });
    expect(res).toMatchObject({ status: 403, body: { errcode: 'MIMI_NOT_ALLOWED' } });
  });
});
