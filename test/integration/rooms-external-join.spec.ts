/**
 * Joining a MIMI room hubbed elsewhere without an invitation (issue 4 "follower mode: a remote
 * MIMI room can be joined through a portal alias"): the follower asks the hub for the room
 * (`BridgeHost.joinRemote`, a /groupInfo probe), mirrors it, and a local user who enters the
 * mirror joins the MLS group by external commit (protocol-06 §5.6 + §5.3). Two in-process
 * gateways, real mutual TLS, real MLS, SQLite and PostgreSQL.
 */
import { ErrorCode } from '../../src/common/errors';
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import { MimiPeerClient } from '../../src/mimi/transport';
import { DOMAIN_A, DOMAIN_B } from '../kits/mimi/transport-fixtures';
import {
  asGroupInfo,
  asMlsMessage,
  decodeAll,
  encodeValue,
  groupInfoRatchetTreeTbeCodec,
  groupInfoResponseCodec,
  type UpdateRoomResponse,
  updateRequestCodec,
  updateRoomResponseCodec,
} from '../../src/mimi/wire';
import {
  GroupStore,
  InMemoryMlsStorage,
  decryptWithLabel,
  groupInfoFromBytes,
  hpkeKeyPair,
  participantListFromExtensions,
} from '../../src/mls';
import { type InboundEvent, type LegacyUserRef, type MessageAction, ParticipantRole } from '../../src/ports';
import { type RoomEventInfo, type RoomInfo, legacyUserUri } from '../../src/rooms';
import { signedGroupInfoRequest } from '../../src/rooms/hub-requests';
import { GHOST_PREFIX, MIRROR_PREFIX, type MemoryRoom } from '../fakes/memory-platform';
import { DATABASE_KINDS } from '../support/test-data-source';
import { GatewayPair, type GatewayUnderTest, admin, eventually, found, memoryRoom } from './gateway-pair';

const OPEN_ROOM_ID = '!open:a.example';
const CLOSED_ROOM_ID = '!closed:a.example';
const SECOND_ROOM_ID = '!second:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const BOB: LegacyUserRef = { platform: Platform.Memory, userId: 'bob' };
const CAROL: LegacyUserRef = { platform: Platform.Memory, userId: 'carol' };
const MALLORY: LegacyUserRef = { platform: Platform.Memory, userId: 'mallory' };
const ERIN: LegacyUserRef = { platform: Platform.Memory, userId: 'erin' };
const ERIN_URI = legacyUserUri(DOMAIN_A, 'memory', 'erin');
const ALICE_URI = legacyUserUri(DOMAIN_A, 'memory', 'alice');
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');
const CAROL_URI = legacyUserUri(DOMAIN_B, 'memory', 'carol');
const MALLORY_URI = legacyUserUri(DOMAIN_B, 'memory', 'mallory');
const DAVE_URI = legacyUserUri(DOMAIN_B, 'memory', 'dave');

let pair: GatewayPair;
let eventSeq = 0;
const nextEventId = (prefix: string): string => `$${prefix}-${++eventSeq}`;
const ghostOf = (user: UserUri): string => `${GHOST_PREFIX}${user}`;
const mirrorOf = (roomUri: RoomUri): string => `${MIRROR_PREFIX}${roomUri}`;
const postText = (text: string): MessageAction => ({ type: 'post', body: { kind: 'text', text } });

function room(gw: GatewayUnderTest, roomId: string): MemoryRoom {
  const r = gw.platform.rooms.get(roomId);
  if (r === undefined) throw new Error(`no room ${roomId} on ${gw.domain}`);
  return r;
}

async function roomInfo(gw: GatewayUnderTest, roomUri: RoomUri): Promise<RoomInfo | undefined> {
  const res = await admin<RoomInfo[]>(gw, 'GET', '/provisioning/rooms');
  return res.body.find((r) => r.roomUri === roomUri);
}

async function history(gw: GatewayUnderTest, roomUri: RoomUri): Promise<RoomEventInfo[]> {
  const res = await admin<RoomEventInfo[]>(gw, 'GET', `/provisioning/rooms/${encodeURIComponent(roomUri)}/events`);
  expect(res.status).toBe(200);
  return res.body;
}

function joinEvent(roomId: string, user: LegacyUserRef): InboundEvent {
  return {
    kind: 'membership',
    room: memoryRoom(roomId),
    platformEventId: nextEventId('join'),
    user,
    membership: 'join',
    timestamp: Date.now(),
  };
}

/** A native user of `gw` enters a room, as the platform reports it. */
async function enter(gw: GatewayUnderTest, roomId: string, user: LegacyUserRef): Promise<void> {
  room(gw, roomId).members.set(user.userId, { user, role: ParticipantRole.Member });
  await gw.platform.emitEvent(joinEvent(roomId, user));
}

/** The text messages of a memory room's timeline, with their senders' IDs. */
function texts(gw: GatewayUnderTest, roomId: string): { from: string; text: string }[] {
  return room(gw, roomId).timeline.flatMap((e) =>
    e.kind === 'message' && e.action.type === 'post' && e.action.body.kind === 'text'
      ? [{ from: 'userUri' in e.sender ? ghostOf(e.sender.userUri) : e.sender.userId, text: e.action.body.text }]
      : [],
  );
}

async function link(roomId: string, joinRule: 'public' | 'invite'): Promise<RoomUri> {
  const r = pair.a.platform.createRoom(roomId, roomId);
  r.joinRule = joinRule;
  r.members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
  const status = await pair.a.platform.host!.link(memoryRoom(roomId), ALICE);
  return status.roomUri;
}

describe.each(DATABASE_KINDS)('joining a remote MIMI room without an invitation on %s', (kind) => {
  let openUri: RoomUri;
  let closedUri: RoomUri;

  beforeAll(async () => {
    eventSeq = 0;
    pair = await GatewayPair.start(kind);
    openUri = await link(OPEN_ROOM_ID, 'public');
    closedUri = await link(CLOSED_ROOM_ID, 'invite');
    await pair.a.platform.emitLocal(OPEN_ROOM_ID, ALICE, postText('said before anyone from B came'));
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('mirrors an open remote room on request, before any local user is in it', async () => {
    const mirror = await pair.b.platform.host!.joinRemote(openUri, BOB);

    expect(mirror).toEqual(memoryRoom(mirrorOf(openUri)));
    expect(pair.b.platform.rooms.has(mirrorOf(openUri))).toBe(true);
    expect(await roomInfo(pair.b, openUri)).toMatchObject({
      role: 'follower',
      hub: DOMAIN_A,
      roomId: mirrorOf(openUri),
      localMembers: [],
    });
    // Asking again returns the same mirror.
    await expect(pair.b.platform.host!.joinRemote(openUri, CAROL)).resolves.toEqual(mirror);
  });

  it('lets a local user who enters the mirror join the MIMI room by external commit', async () => {
    await enter(pair.b, mirrorOf(openUri), BOB);

    const onA = await found(async () => {
      const info = await roomInfo(pair.a, openUri);
      return info?.participants.some((p) => p.userUri === BOB_URI) ? info : undefined;
    }, 'bob on the hub');
    expect(onA.participants).toContainEqual({ userUri: BOB_URI, role: ParticipantRole.Member });
    expect(onA.members).toContain(BOB_URI);
    // Carried out on the legacy side: bob's ghost is in the hub's room.
    expect(room(pair.a, OPEN_ROOM_ID).members.has(ghostOf(BOB_URI))).toBe(true);
    // B's view: bob is a member and participant, alice is shown in the mirror as a ghost.
    const onB = await found(async () => {
      const info = await roomInfo(pair.b, openUri);
      return info?.participants.some((p) => p.userUri === BOB_URI) ? info : undefined;
    }, 'bob on B');
    expect(onB.localMembers).toEqual([BOB_URI]);
    expect(onB.epoch).toBe(onA.epoch);
    expect(onB.participants).toEqual(onA.participants);
    await eventually(() => expect(room(pair.b, mirrorOf(openUri)).members.has(ghostOf(ALICE_URI))).toBe(true));
    expect(pair.b.platform.notices).toEqual([]);
  });

  it('carries messages both ways after the join, and none from before it', async () => {
    await pair.a.platform.emitLocal(OPEN_ROOM_ID, ALICE, postText('welcome, bob'));
    await eventually(() =>
      expect(texts(pair.b, mirrorOf(openUri))).toContainEqual({ from: ghostOf(ALICE_URI), text: 'welcome, bob' }),
    );
    await pair.b.platform.emitLocal(mirrorOf(openUri), BOB, postText('thanks, alice'));
    await eventually(() =>
      expect(texts(pair.a, OPEN_ROOM_ID)).toContainEqual({ from: ghostOf(BOB_URI), text: 'thanks, alice' }),
    );
    // Bob's own message is in B's log once the hub's fan-out confirmed it.
    await eventually(async () =>
      expect((await history(pair.b, openUri)).map((e) => e.content.text)).toEqual(['welcome, bob', 'thanks, alice']),
    );
    expect(texts(pair.b, mirrorOf(openUri)).map((t) => t.text)).not.toContain('said before anyone from B came');
  });

  it('adds a second local user through the member already there, and the room keeps working', async () => {
    await enter(pair.b, mirrorOf(openUri), CAROL);
    await found(async () => {
      const info = await roomInfo(pair.b, openUri);
      return info?.localMembers.includes(CAROL_URI) ? info : undefined;
    }, 'carol in the group on B (by Welcome)');
    expect((await roomInfo(pair.a, openUri))!.members).toContain(CAROL_URI);
    await pair.b.platform.emitLocal(mirrorOf(openUri), CAROL, postText('carol is here too'));
    await eventually(() =>
      expect(texts(pair.a, OPEN_ROOM_ID)).toContainEqual({ from: ghostOf(CAROL_URI), text: 'carol is here too' }),
    );
    await pair.a.platform.emitLocal(OPEN_ROOM_ID, ALICE, postText('hello both'));
    await eventually(async () => expect((await history(pair.b, openUri)).at(-1)?.content.text).toBe('hello both'));
  });

  it('retries a local change the hub refused with wrongEpoch once its commit in flight has arrived', async () => {
    // Deliveries from A to B wait at this gate while it is closed (a commit in flight).
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const peerOfA = pair.a.running.app.get(MimiPeerClient);
    const deliver = peerOfA.deliver.bind(peerOfA);
    const held = jest.spyOn(peerOfA, 'deliver').mockImplementation(async (delivery, signal) => {
      await gate;
      return deliver(delivery, signal);
    });
    const peerOfB = pair.b.running.app.get(MimiPeerClient);
    const answers: UpdateRoomResponse[] = [];
    const request = peerOfB.request.bind(peerOfB);
    const spy = jest.spyOn(peerOfB, 'request').mockImplementation(async (...args) => {
      const res = await request(...args);
      if (args[1] === 'update' && res.status === 200) answers.push(decodeAll(res.body, updateRoomResponseCodec));
      return res;
    });
    const noticesBefore = pair.b.platform.notices.length;
    try {
      // A hub commit (a new native member on A) is held back on its way to B...
      room(pair.a, OPEN_ROOM_ID).members.set(ERIN.userId, { user: ERIN, role: ParticipantRole.Member });
      await pair.a.platform.emitEvent(joinEvent(OPEN_ROOM_ID, ERIN));
      // ...while carol leaves on B: her commit is for the epoch B knows.
      room(pair.b, mirrorOf(openUri)).members.delete(CAROL.userId);
      const leaving = pair.b.platform.emitEvent({
        kind: 'membership',
        room: memoryRoom(mirrorOf(openUri)),
        platformEventId: nextEventId('leave'),
        user: CAROL,
        membership: 'leave',
        timestamp: Date.now(),
      });
      await eventually(() => expect(answers.map((a) => a.responseCode)).toEqual(['wrongEpoch']));
      open();
      await leaving;
    } finally {
      open();
      held.mockRestore();
      spy.mockRestore();
    }

    expect(answers.map((a) => a.responseCode)).toEqual(['wrongEpoch', 'success']);
    const onA = (await roomInfo(pair.a, openUri))!;
    expect(onA.participants.map((p) => p.userUri)).not.toContain(CAROL_URI);
    expect(onA.participants.map((p) => p.userUri)).toContain(ERIN_URI);
    await eventually(async () => expect((await roomInfo(pair.a, openUri))!.members).not.toContain(CAROL_URI));
    expect(pair.b.platform.notices.slice(noticesBefore)).toEqual([]);
  });

  it('refuses a user banned on the hub: told why, and removed from the mirror', async () => {
    await pair.a.platform.emitEvent({
      kind: 'membership',
      room: memoryRoom(OPEN_ROOM_ID),
      platformEventId: nextEventId('ban'),
      user: { userUri: MALLORY_URI },
      membership: 'ban',
      by: ALICE,
      timestamp: Date.now(),
    });
    await found(async () => {
      const info = await roomInfo(pair.b, openUri);
      return info?.participants.some((p) => p.userUri === MALLORY_URI) ? info : undefined;
    }, 'the ban on B');
    // With members on B, the join goes through one of them: the hub refuses it as well.
    await enter(pair.b, mirrorOf(openUri), MALLORY);
    await eventually(() =>
      expect(pair.b.platform.notices.map((n) => n.text).join('\n')).toMatch(/notAllowed .*mallory.* is banned/),
    );
    const onA = await roomInfo(pair.a, openUri);
    expect(onA!.participants).toContainEqual({ userUri: MALLORY_URI, role: ParticipantRole.Banned });
    expect(onA!.members).not.toContain(MALLORY_URI);
  });

  it('refuses the external join of a banned user when nobody from B is in the room yet', async () => {
    const secondUri = await link(SECOND_ROOM_ID, 'public');
    await pair.a.platform.emitEvent({
      kind: 'membership',
      room: memoryRoom(SECOND_ROOM_ID),
      platformEventId: nextEventId('ban'),
      user: { userUri: MALLORY_URI },
      membership: 'ban',
      by: ALICE,
      timestamp: Date.now(),
    });
    await pair.b.platform.host!.joinRemote(secondUri, MALLORY);
    const noticesBefore = pair.b.platform.notices.length;

    await enter(pair.b, mirrorOf(secondUri), MALLORY);

    await eventually(() =>
      expect(pair.b.platform.notices.slice(noticesBefore).map((n) => n.text)).toEqual([
        `You could not join the MIMI room ${secondUri}: the room is not open to you`,
      ]),
    );
    expect(room(pair.b, mirrorOf(secondUri)).members.has(MALLORY.userId)).toBe(false);
    expect((await roomInfo(pair.b, secondUri))!.localMembers).toEqual([]);
    const onA = (await roomInfo(pair.a, secondUri))!;
    expect(onA.members).not.toContain(MALLORY_URI);
    expect(onA.participants).toContainEqual({ userUri: MALLORY_URI, role: ParticipantRole.Banned });
  });

  it('refuses an invite-only room at the probe: no mirror is created', async () => {
    await expect(pair.b.platform.host!.joinRemote(closedUri, BOB)).rejects.toMatchObject({
      code: ErrorCode.NotAllowed,
      message: expect.stringMatching(/not open .* invite/),
    });
    expect(pair.b.platform.rooms.has(mirrorOf(closedUri))).toBe(false);
    expect(await roomInfo(pair.b, closedUri)).toBeUndefined();
  });

  it('says NotFound for a room its hub does not have', async () => {
    await expect(
      pair.b.platform.host!.joinRemote(`mimi://${DOMAIN_A}/r/no-such-room` as RoomUri, BOB),
    ).rejects.toMatchObject({ code: ErrorCode.NotFound });
  });

  it('refuses at /update an external commit into a room that is not open (GroupInfo from when it was)', async () => {
    room(pair.a, CLOSED_ROOM_ID).joinRule = 'public';
    // Dave's client of its own (a scratch store): the hub sees only bytes.
    const store = new GroupStore(new InMemoryMlsStorage());
    const dave = await store.identities.getOrCreate(DAVE_URI);
    const hpke = hpkeKeyPair();
    const peer = pair.b.running.app.get(MimiPeerClient);
    const res = await peer.request(
      DOMAIN_A,
      'groupInfo',
      closedUri,
      signedGroupInfoRequest(DAVE_URI, dave, hpke.publicKey),
    );
    const granted = decodeAll(res.body, groupInfoResponseCodec);
    expect(granted.status).toBe('success');
    if (granted.status !== 'success') return;
    const tbe = decodeAll(
      decryptWithLabel(
        hpke.privateKey,
        'GroupInfo and ratchet_tree encryption',
        new TextEncoder().encode(closedUri),
        granted.encryptedGroupInfoAndTree,
      ),
      groupInfoRatchetTreeTbeCodec,
    );
    if (tbe.ratchetTreeOption.representation !== 'full') throw new Error('no tree');
    const list = participantListFromExtensions(groupInfoFromBytes(tbe.groupInfo).groupContext.extensions) ?? [];
    const joined = await store.joinExternal(DAVE_URI, tbe.groupInfo, {
      ratchetTree: tbe.ratchetTreeOption.ratchetTree,
      participants: [...list, { user: DAVE_URI, roleIndex: 3 }],
    });
    const next = await joined.group.groupInfo(DAVE_URI);
    const epochBefore = (await roomInfo(pair.a, closedUri))!.epoch;

    room(pair.a, CLOSED_ROOM_ID).joinRule = 'invite';
    const answer = await peer.request(
      DOMAIN_A,
      'update',
      closedUri,
      encodeValue(
        {
          bundle: {
            proposalOrCommit: asMlsMessage(joined.commit),
            contentType: 'commit',
            groupInfoOption: { representation: 'full', groupInfo: asGroupInfo(next.groupInfo) },
            ratchetTreeOption: { representation: 'full', ratchetTree: next.ratchetTree },
          },
        },
        updateRequestCodec,
      ),
    );

    expect(answer.status).toBe(200);
    expect(decodeAll(answer.body, updateRoomResponseCodec)).toMatchObject({
      responseCode: 'notAllowed',
      errorDescription: expect.stringMatching(/not open/),
    });
    const after = (await roomInfo(pair.a, closedUri))!;
    expect(after.epoch).toBe(epochBefore);
    expect(after.members).not.toContain(DAVE_URI);
    expect(room(pair.a, CLOSED_ROOM_ID).members.has(ghostOf(DAVE_URI))).toBe(false);
  });
});
