/**
 * Room state components between two in-process gateways (issue 10 item 1): A hubs a memory-platform
 * room; its name, topic, permissions and join rule become room_metadata, roles_list,
 * base_room_policy, logging_policy and bot_policy in the group (protocol-06 §7.6, room-policy-03
 * §3, §5, §6.5, §6.7); changes on A's platform reach B as AppDataUpdate commits, B's mirror room
 * shows the name and topic, and the hub enforces the roles as the list says. The tests run in order.
 */
import { Platform, type RoomUri } from '../../src/common/ids';
import { Capability, RoomStateComponentId, roleAt, roleHas } from '../../src/mimi/room-state';
import { appDataFromExtensions } from '../../src/mls';
import { type InboundEvent, type LegacyUserRef, ParticipantRole, type RoomPermissions } from '../../src/ports';
import { MlsGroups, type RoomInfo, legacyUserUri } from '../../src/rooms';
import { type RoomState, readRoomState } from '../../src/rooms/room-state/room-components';
import { DOMAIN_A, DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { MIRROR_PREFIX, type MemoryRoom } from '../fakes/memory-platform';
import {
  GatewayPair,
  type GatewayUnderTest,
  admin,
  eventually,
  found,
  linkMemoryRoom,
  memoryRoom,
} from './gateway-pair';

const CLUB = '!state-club:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const BOB: LegacyUserRef = { platform: Platform.Memory, userId: 'bob' };
const CAROL: LegacyUserRef = { platform: Platform.Memory, userId: 'carol' };
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');
const CAROL_URI = legacyUserUri(DOMAIN_B, 'memory', 'carol');
const [NONE, MEMBER, MODERATOR, ADMIN] = [0, 3, 4, 5];

/** Like a Matrix room: members post and invite, moderators kick and change the topic, admins ban. */
const PERMISSIONS: RoomPermissions = {
  minimumRole: {
    send: ParticipantRole.Member,
    invite: ParticipantRole.Member,
    kick: ParticipantRole.Moderator,
    ban: ParticipantRole.Admin,
    changeName: ParticipantRole.Moderator,
    changeTopic: ParticipantRole.Moderator,
    changeRoles: ParticipantRole.Admin,
  },
};

let pair: GatewayPair;
let roomUri: RoomUri;
let seq = 0;
const eventId = (what: string): string => `$state-${what}-${++seq}`;
const mirrorId = (): string => `${MIRROR_PREFIX}${roomUri}`;

function room(gw: GatewayUnderTest, roomId: string): MemoryRoom {
  const r = gw.platform.rooms.get(roomId);
  if (r === undefined) throw new Error(`no room ${roomId} on ${gw.domain}`);
  return r;
}

async function roomInfo(gw: GatewayUnderTest): Promise<RoomInfo | undefined> {
  return (await admin<RoomInfo[]>(gw, 'GET', '/provisioning/rooms')).body.find((r) => r.roomUri === roomUri);
}

async function extensionsOn(gw: GatewayUnderTest) {
  return (await gw.running.app.get(MlsGroups).requireGroup(roomUri)).coreState.context.extensions;
}

async function stateOn(gw: GatewayUnderTest): Promise<RoomState> {
  return readRoomState(await extensionsOn(gw));
}

/** The app_data_dictionary of `gw`'s group, component by component (hex), for byte-for-byte comparison. */
async function componentBytes(gw: GatewayUnderTest): Promise<Record<number, string>> {
  const entries = appDataFromExtensions(await extensionsOn(gw));
  return Object.fromEntries(entries.map((c) => [c.componentId, Buffer.from(c.data).toString('hex')]));
}

/** An inbound event without its room and time (a union member by member). */
type Bare<E = InboundEvent> = E extends InboundEvent ? Omit<E, 'room' | 'timestamp'> : never;

const onA = (event: Bare): Promise<void> =>
  pair.a.platform.emitEvent({ ...event, room: memoryRoom(CLUB), timestamp: Date.now() } as InboundEvent);

describe('room state components between two gateways', () => {
  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite');
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('writes name, topic, roles, base policy and the gateway disclosure into the group when A links the room', async () => {
    const club = pair.a.platform.createRoom(CLUB, 'Club');
    club.topic = 'Chess on Fridays';
    club.permissions = PERMISSIONS;
    club.members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    roomUri = await linkMemoryRoom(pair.a, CLUB);

    expect((await roomInfo(pair.a))?.epoch).toBe(0); // in the first GroupContext, no commit needed
    const state = await stateOn(pair.a);
    expect(state.metadata).toMatchObject({
      roomUri,
      name: 'Club',
      descriptions: [{ mediaType: '', content: 'Chess on Fridays' }],
    });
    expect(roleHas(state.roles!, MEMBER, Capability.canAddParticipant)).toBe(true);
    expect(roleHas(state.roles!, MEMBER, Capability.canRemoveParticipant)).toBe(false);
    expect(roleHas(state.roles!, MODERATOR, Capability.canRemoveParticipant)).toBe(true);
    expect(roleHas(state.roles!, MODERATOR, Capability.canBan)).toBe(false);
    expect(roleHas(state.roles!, ADMIN, Capability.canBan)).toBe(true);
    expect(roleAt(state.roles!, NONE)).toBeUndefined(); // invite-only
    expect(state.basePolicy).toMatchObject({ discoverable: false, persistentRoom: true });
    expect(state.logging).toMatchObject({ logging: 'required', loggingClients: [`mimi://${DOMAIN_A}`] });
    expect(state.bots?.[0]?.description).toMatch(/decrypted by the gateway a\.example/);
  });

  it('gives B the same components with the Welcome, and B mirrors the name and topic', async () => {
    await onA({
      kind: 'membership',
      platformEventId: eventId('invite'),
      user: { userUri: BOB_URI },
      membership: 'invite',
      by: ALICE,
    });
    await found(() => roomInfo(pair.b), 'the room on B');
    expect(await componentBytes(pair.b)).toEqual(await componentBytes(pair.a));
    const mirror = await found(() => pair.b.platform.rooms.get(mirrorId()), 'the mirror room');
    await eventually(() => expect(mirror).toMatchObject({ name: 'Club', topic: 'Chess on Fridays' }));
  });

  it('carries name and topic changes on A to B, each by one AppDataUpdate commit; the mirror follows', async () => {
    const epoch = Number((await roomInfo(pair.a))!.epoch);
    const change = { kind: 'roomMetadata' as const, platformEventId: eventId('meta'), name: 'Chess club' };
    await onA(change);
    await onA({ kind: 'roomMetadata', platformEventId: eventId('meta'), topic: 'Fridays at eight' });

    expect((await roomInfo(pair.a))!.epoch).toBe(epoch + 2);
    await eventually(async () => expect((await roomInfo(pair.b))!.epoch).toBe(epoch + 2));
    expect((await stateOn(pair.b)).metadata).toMatchObject({
      name: 'Chess club',
      descriptions: [{ content: 'Fridays at eight' }],
    });
    await eventually(() =>
      expect(room(pair.b, mirrorId())).toMatchObject({ name: 'Chess club', topic: 'Fridays at eight' }),
    );

    // The same event again, or a change to what the room already says, commits nothing.
    await onA(change);
    await onA({ kind: 'roomMetadata', platformEventId: eventId('meta'), name: 'Chess club' });
    expect((await roomInfo(pair.a))!.epoch).toBe(epoch + 2);
  });

  it('rewrites roles_list when the permissions change on A, and the hub enforces the new list', async () => {
    // Before: a member of B may add a B user (members invite).
    expect(roleHas((await stateOn(pair.b)).roles!, MEMBER, Capability.canAddParticipant)).toBe(true);
    const club = room(pair.a, CLUB);
    club.permissions = { minimumRole: { ...PERMISSIONS.minimumRole, invite: ParticipantRole.Admin } };
    await onA({ kind: 'roomPolicy', platformEventId: eventId('policy'), permissions: club.permissions });

    await eventually(async () =>
      expect(roleHas((await stateOn(pair.b)).roles!, MEMBER, Capability.canAddParticipant)).toBe(false),
    );
    expect(roleHas((await stateOn(pair.b)).roles!, ADMIN, Capability.canAddParticipant)).toBe(true);

    // Carol joins the mirror on B: bob's client commits her Add; the hub refuses it by the new list.
    const join: InboundEvent = {
      kind: 'membership',
      room: { platform: Platform.Memory, roomId: mirrorId() },
      platformEventId: eventId('join'),
      user: CAROL,
      membership: 'join',
      timestamp: Date.now(),
    };
    await pair.b.platform.emitEvent(join);
    expect(pair.b.platform.notices).toContainEqual(
      expect.objectContaining({
        about: join.platformEventId,
        text: expect.stringMatching(/notAllowed .*canAddParticipant/),
      }),
    );
    expect((await roomInfo(pair.a))!.participants.map((p) => p.userUri)).not.toContain(CAROL_URI);
  });

  it('opens the room when A makes it public: role 0 gets canOpenJoin and the room is discoverable', async () => {
    room(pair.a, CLUB).joinRule = 'public';
    await onA({ kind: 'roomPolicy', platformEventId: eventId('open'), joinRule: 'public' });

    await eventually(async () => expect((await stateOn(pair.b)).basePolicy?.discoverable).toBe(true));
    const roles = (await stateOn(pair.b)).roles!;
    expect(roleAt(roles, NONE)).toMatchObject({
      capabilities: [Capability.canOpenJoin],
      authorizedRoleChanges: [{ fromRoleIndex: NONE, targetRoleIndexes: [MEMBER] }],
    });
    // The permissions stay those A reported last (read from its snapshot).
    expect(roleHas(roles, MEMBER, Capability.canAddParticipant)).toBe(false);
    expect(await componentBytes(pair.b)).toEqual(await componentBytes(pair.a));
    expect(Object.keys(await componentBytes(pair.a)).map(Number)).toEqual(
      expect.arrayContaining([RoomStateComponentId.rolesList, RoomStateComponentId.baseRoomPolicy]),
    );
  });

  it("sends a topic change made in B's mirror to A by /update: refused without canChangeRoomDescription, applied on A's platform once allowed", async () => {
    const topicByBob = (topic: string): InboundEvent => ({
      kind: 'roomMetadata',
      room: { platform: Platform.Memory, roomId: mirrorId() },
      platformEventId: eventId('topic'),
      by: BOB,
      topic,
      timestamp: Date.now(),
    });
    // Bob is a member; the topic is the moderators' (PERMISSIONS.changeTopic).
    const refused = topicByBob('bob was here');
    await pair.b.platform.emitEvent(refused);
    expect(pair.b.platform.notices).toContainEqual(
      expect.objectContaining({
        about: refused.platformEventId,
        text: expect.stringMatching(/notAllowed .*canChangeRoomDescription/),
      }),
    );
    expect(room(pair.a, CLUB).topic).not.toBe('bob was here');

    await onA({
      kind: 'role',
      platformEventId: eventId('role'),
      user: { userUri: BOB_URI },
      role: ParticipantRole.Moderator,
      by: ALICE,
    });
    await eventually(async () =>
      expect((await roomInfo(pair.b))!.participants).toContainEqual({
        userUri: BOB_URI,
        role: ParticipantRole.Moderator,
      }),
    );
    const epoch = Number((await roomInfo(pair.a))!.epoch);
    await pair.b.platform.emitEvent(topicByBob('bob was here'));

    expect(room(pair.a, CLUB).topic).toBe('bob was here');
    expect((await roomInfo(pair.a))!.epoch).toBe(epoch + 1);
    expect((await stateOn(pair.a)).metadata).toMatchObject({
      name: 'Chess club',
      descriptions: [{ content: 'bob was here' }],
    });
    await eventually(async () => expect(await componentBytes(pair.b)).toEqual(await componentBytes(pair.a)));
  });
});
