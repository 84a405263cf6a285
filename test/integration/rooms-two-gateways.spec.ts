/**
 * MIMI rooms end to end between two in-process gateways (issue 3 items 1-5): A hubs a room linked
 * to its memory platform, B follows it through a mirror room. Real mutual TLS on loopback, real
 * SQLite databases, real MLS. The tests run in order and share the room.
 */
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import { MimiPeerClient } from '../../src/mimi/transport';
import { DOMAIN_A, DOMAIN_B, DOMAIN_C } from '../kits/mimi/transport-fixtures';
import {
  asCredential,
  decodeAll,
  decodeFanoutBody,
  encodeFanoutBody,
  groupInfoRatchetTreeTbeCodec,
  groupInfoRequestCodec,
  groupInfoRequestTbsCodec,
  groupInfoResponseCodec,
  groupInfoResponseTbs,
  groupInfoResponseTbsCodec,
  encodeValue,
} from '../../src/mimi/wire';
import {
  decryptWithLabel,
  frameMlsMessage,
  hpkeKeyPair,
  inspectMlsMessage,
  mimiSuite,
  signWithLabel,
  verifyWithLabel,
} from '../../src/mls';
import { MIMI_CIPHERSUITE_ID, basicCredentialBytes } from '../../src/rooms/wire-support';
import { RoomSubmissionRepository } from '../../src/persistence/repositories/room-submission.repository';
import {
  type InboundEvent,
  type LegacyUserRef,
  type MessageAction,
  ParticipantRole,
  type RemoteUser,
} from '../../src/ports';
import { MlsGroups, RenderWorker, type RoomEventInfo, type RoomInfo, legacyUserUri } from '../../src/rooms';
import { GHOST_PREFIX, MIRROR_PREFIX, type MemoryRoom } from '../fakes/memory-platform';
import { DataSource } from 'typeorm';
import { DATABASE_KINDS } from '../support/test-data-source';
import {
  GatewayPair,
  type GatewayUnderTest,
  admin,
  eventually,
  found,
  holdSubmissionsOfB,
  memoryRoom,
  mimiPost,
  submitFromB,
} from './gateway-pair';

const CLUB_ROOM_ID = '!club:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const DAVE: LegacyUserRef = { platform: Platform.Memory, userId: 'dave' };
const BOB: LegacyUserRef = { platform: Platform.Memory, userId: 'bob' };
const CAROL: LegacyUserRef = { platform: Platform.Memory, userId: 'carol' };
const ERIN: LegacyUserRef = { platform: Platform.Memory, userId: 'erin' };
const ALICE_URI = legacyUserUri(DOMAIN_A, 'memory', 'alice');
const DAVE_URI = legacyUserUri(DOMAIN_A, 'memory', 'dave');
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');
const CAROL_URI = legacyUserUri(DOMAIN_B, 'memory', 'carol');
const MALLORY_URI = legacyUserUri(DOMAIN_B, 'memory', 'mallory');
const FOREIGN_URI = legacyUserUri(DOMAIN_C, 'memory', 'eve');

const HELLO_FROM_ALICE = 'hello from alice on A';
const REPLY_FROM_ALICE = 'alice replies to herself';
const EDITED_BY_ALICE = 'hello from alice on A (edited)';
const HEART = '❤️';
const HI_FROM_BOB = 'hi from bob on B';
const BOB_REPLIES = 'bob replies to alice';
const BOB_EDITED = 'hi from bob on B (edited)';
const THUMBS_UP = '👍';
const FROM_CAROL = 'carol joined from B';
const AFTER_REMOVAL = 'said after bob was removed';
const WHILE_A_IS_DOWN = "carol's message while A's platform is down";
const ANSWER_LOST = 'carol posts, and the answer of the platform gets lost';
const BEFORE_THE_EPOCH_CHANGE = 'bob, first, written before erin joined';
const AFTER_THE_EPOCH_CHANGE = 'bob, second, written after erin joined';
const WHILE_B_IS_DOWN = ['first while B is down', 'second while B is down', 'third while B is down'];

let pair: GatewayPair;
let roomUri: RoomUri;
let eventSeq = 0;

const nextEventId = (prefix: string): string => `$${prefix}-${++eventSeq}`;
const now = (): number => Date.now();
const mirrorId = (): string => `${MIRROR_PREFIX}${roomUri}`;

function room(gw: GatewayUnderTest, roomId: string): MemoryRoom {
  const r = gw.platform.rooms.get(roomId);
  if (r === undefined) throw new Error(`no room ${roomId} on ${gw.domain}`);
  return r;
}

async function history(gw: GatewayUnderTest): Promise<RoomEventInfo[]> {
  const res = await admin<RoomEventInfo[]>(gw, 'GET', `/provisioning/rooms/${encodeURIComponent(roomUri)}/events`);
  expect(res.status).toBe(200);
  return res.body;
}

async function roomInfo(gw: GatewayUnderTest): Promise<RoomInfo | undefined> {
  const res = await admin<RoomInfo[]>(gw, 'GET', '/provisioning/rooms');
  return res.body.find((r) => r.roomUri === roomUri);
}

/** The stored message with `text`, once it is there. */
async function messageWithText(gw: GatewayUnderTest, text: string): Promise<RoomEventInfo> {
  return found(async () => (await history(gw)).find((e) => e.content.text === text), `message ${text}`);
}

/** The platform event (message kind) on `gw` whose action satisfies `match`, once it is there. */
async function platformMessage(
  gw: GatewayUnderTest,
  roomId: string,
  match: (action: MessageAction, event: Extract<InboundEvent, { kind: 'message' }>) => boolean,
): Promise<Extract<InboundEvent, { kind: 'message' }>> {
  return found(
    () =>
      room(gw, roomId).timeline.find(
        (e): e is Extract<InboundEvent, { kind: 'message' }> => e.kind === 'message' && match(e.action, e),
      ),
    `a matching message on ${gw.domain}`,
  );
}

const postText = (text: string, inReplyTo?: string): MessageAction => ({
  type: 'post',
  body: { kind: 'text', text },
  ...(inReplyTo === undefined ? {} : { inReplyTo: { platformEventId: inReplyTo } }),
});

const ghostOf = (user: UserUri): string => `${GHOST_PREFIX}${user}`;

function membership(
  roomId: string,
  user: LegacyUserRef | RemoteUser,
  kind: 'invite' | 'join' | 'leave' | 'kick' | 'ban',
  by?: LegacyUserRef,
): InboundEvent {
  return {
    kind: 'membership',
    room: memoryRoom(roomId),
    platformEventId: nextEventId('member'),
    user,
    membership: kind,
    ...(by ? { by } : {}),
    timestamp: now(),
  };
}

const submitAs = (sendingUri: string, appMessage: Uint8Array) => submitFromB(pair, roomUri, sendingUri, appMessage);

/** Bob's submissions as B stored them, oldest first. */
async function bobSubmissions() {
  const repo = pair.b.running.app.get(RoomSubmissionRepository, { strict: false });
  return [...(await repo.listWithStatus('out', 'confirmed')), ...(await repo.listWithStatus('out', 'accepted'))]
    .filter((s) => s.roomUri === roomUri && s.senderUri === BOB_URI)
    .sort((x, y) => x.createdAt - y.createdAt);
}

describe.each(DATABASE_KINDS)('MIMI rooms between two gateways on %s', (kind) => {
  beforeAll(async () => {
    eventSeq = 0;
    pair = await GatewayPair.start(kind);
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('links a legacy room on A: A becomes its hub and creates the MLS group', async () => {
    const club = pair.a.platform.createRoom(CLUB_ROOM_ID, 'Club');
    club.members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });

    const res = await admin<{ roomUri: RoomUri }>(pair.a, 'POST', '/provisioning/rooms', {
      platform: 'memory',
      roomId: CLUB_ROOM_ID,
    });

    expect(res.status).toBe(201);
    roomUri = res.body.roomUri;
    expect(roomUri).toMatch(/^mimi:\/\/a\.example\/r\//);
    const info = await roomInfo(pair.a);
    expect(info).toMatchObject({ role: 'hub', hub: DOMAIN_A, platform: 'memory', roomId: CLUB_ROOM_ID, epoch: 0 });
    expect(info?.participants).toContainEqual({ userUri: ALICE_URI, role: ParticipantRole.Owner });
    const again = await admin(pair.a, 'POST', '/provisioning/rooms', { platform: 'memory', roomId: CLUB_ROOM_ID });
    expect(again).toMatchObject({ status: 409, body: { errcode: 'MIMI_CONFLICT' } });
  });

  it('adds a B user invited on A: B joins by Welcome and mirrors the room', async () => {
    await pair.a.platform.emitEvent(membership(CLUB_ROOM_ID, { userUri: BOB_URI }, 'invite', ALICE));

    const info = await found(() => roomInfo(pair.b), 'the room on B');
    expect(info).toMatchObject({ role: 'follower', hub: DOMAIN_A, platform: 'memory', roomId: mirrorId() });
    expect(info.participants).toContainEqual({ userUri: BOB_URI, role: ParticipantRole.Member });
    expect(room(pair.a, CLUB_ROOM_ID).members.has(ghostOf(BOB_URI))).toBe(true);
    await eventually(() => expect(room(pair.b, mirrorId()).members.has(ghostOf(ALICE_URI))).toBe(true));
    // ONE commit: bob's Add and his participant entry (AppDataUpdate) together, no refresh commit after it.
    expect((await roomInfo(pair.a))!.epoch).toBe(1);
  });

  it('carries A messages to B in order: post, reply, edit, reaction, delete', async () => {
    const hello = await pair.a.platform.emitLocal(CLUB_ROOM_ID, ALICE, postText(HELLO_FROM_ALICE));
    const reply = await pair.a.platform.emitLocal(CLUB_ROOM_ID, ALICE, postText(REPLY_FROM_ALICE, hello));
    await pair.a.platform.emitLocal(CLUB_ROOM_ID, ALICE, {
      type: 'edit',
      target: { platformEventId: hello },
      body: { kind: 'text', text: EDITED_BY_ALICE },
    });
    await pair.a.platform.emitLocal(CLUB_ROOM_ID, ALICE, {
      type: 'react',
      target: { platformEventId: hello },
      key: HEART,
    });
    await pair.a.platform.emitLocal(CLUB_ROOM_ID, ALICE, { type: 'delete', target: { platformEventId: reply } });

    const onB = await found(async () => {
      const events = await history(pair.b);
      return events.length >= 5 ? events : undefined;
    }, 'five messages on B');
    expect(onB.map((e) => e.kind)).toEqual(['text', 'reply', 'edit', 'reaction', 'delete']);
    expect(onB.map((e) => e.senderUri)).toEqual(Array(5).fill(ALICE_URI));
    const onA = await history(pair.a);
    expect(onA.map((e) => e.messageId)).toEqual(onB.map((e) => e.messageId));
    expect(onB[1]!.content.inReplyTo).toBe(onB[0]!.messageId);
    expect(onB[2]!.content).toMatchObject({ replaces: onB[0]!.messageId, text: EDITED_BY_ALICE });

    // Rendered on B as alice's ghost, with references to B's own event IDs.
    const renderedHello = await platformMessage(
      pair.b,
      mirrorId(),
      (a) => a.type === 'post' && a.body.text === HELLO_FROM_ALICE,
    );
    expect(renderedHello.sender).toEqual({ userUri: ALICE_URI });
    const renderedReply = await platformMessage(
      pair.b,
      mirrorId(),
      (a) => a.type === 'post' && a.body.text === REPLY_FROM_ALICE,
    );
    expect(renderedReply.action).toMatchObject({ inReplyTo: { platformEventId: renderedHello.platformEventId } });
    await platformMessage(
      pair.b,
      mirrorId(),
      (a) =>
        a.type === 'edit' &&
        a.target.platformEventId === renderedHello.platformEventId &&
        a.body.text === EDITED_BY_ALICE,
    );
    await platformMessage(pair.b, mirrorId(), (a) => a.type === 'react' && a.key === HEART);
    await platformMessage(
      pair.b,
      mirrorId(),
      (a) => a.type === 'delete' && a.target.platformEventId === renderedReply.platformEventId,
    );
  });

  it('submits B messages through the hub: posted on A once, fanned back to B once', async () => {
    const renderedHello = await platformMessage(
      pair.b,
      mirrorId(),
      (a) => a.type === 'post' && a.body.text === HELLO_FROM_ALICE,
    );
    const hi = await pair.b.platform.emitLocal(mirrorId(), BOB, postText(HI_FROM_BOB));
    await pair.b.platform.emitLocal(mirrorId(), BOB, postText(BOB_REPLIES, renderedHello.platformEventId));
    await pair.b.platform.emitLocal(mirrorId(), BOB, {
      type: 'edit',
      target: { platformEventId: hi },
      body: { kind: 'text', text: BOB_EDITED },
    });
    const react = await pair.b.platform.emitLocal(mirrorId(), BOB, {
      type: 'react',
      target: { platformEventId: renderedHello.platformEventId },
      key: THUMBS_UP,
    });
    await pair.b.platform.emitLocal(mirrorId(), BOB, { type: 'unreact', reaction: { platformEventId: react } });

    const hiOnA = await platformMessage(pair.a, CLUB_ROOM_ID, (a) => a.type === 'post' && a.body.text === HI_FROM_BOB);
    expect(hiOnA.sender).toEqual({ userUri: BOB_URI });
    const helloOnA = await platformMessage(
      pair.a,
      CLUB_ROOM_ID,
      (a) => a.type === 'post' && a.body.text === HELLO_FROM_ALICE,
    );
    const replyOnA = await platformMessage(
      pair.a,
      CLUB_ROOM_ID,
      (a) => a.type === 'post' && a.body.text === BOB_REPLIES,
    );
    expect(replyOnA.action).toMatchObject({ inReplyTo: { platformEventId: helloOnA.platformEventId } });
    await platformMessage(
      pair.a,
      CLUB_ROOM_ID,
      (a) => a.type === 'edit' && a.target.platformEventId === hiOnA.platformEventId,
    );
    const reactOnA = await platformMessage(pair.a, CLUB_ROOM_ID, (a) => a.type === 'react' && a.key === THUMBS_UP);
    await platformMessage(
      pair.a,
      CLUB_ROOM_ID,
      (a) => a.type === 'unreact' && a.reaction.platformEventId === reactOnA.platformEventId,
    );

    const kinds = ['text', 'reply', 'edit', 'reaction', 'unlike'];
    const bobsOnB = await found(async () => {
      const mine = (await history(pair.b)).filter((e) => e.senderUri === BOB_URI);
      return mine.length >= kinds.length ? mine : undefined;
    }, "bob's messages on B");
    expect(bobsOnB.map((e) => e.kind)).toEqual(kinds);
    const bobsOnA = (await history(pair.a)).filter((e) => e.senderUri === BOB_URI);
    expect(bobsOnA.map((e) => e.messageId)).toEqual(bobsOnB.map((e) => e.messageId));
    // Posted once on A (the echo recognised), shown once on B (B's own post, not a ghost copy).
    const ghostPostsOnA = room(pair.a, CLUB_ROOM_ID).timeline.filter(
      (e) => e.kind === 'message' && 'userUri' in e.sender,
    );
    expect(ghostPostsOnA).toHaveLength(kinds.length);
    const ghostBobOnB = room(pair.b, mirrorId()).timeline.filter(
      (e) => e.kind === 'message' && 'userUri' in e.sender && e.sender.userUri === BOB_URI,
    );
    expect(ghostBobOnB).toHaveLength(0);
    expect((await bobSubmissions()).map((s) => s.messageId)).toEqual(bobsOnB.map((e) => e.messageId));
  });

  it("refuses bob's delete of alice's message (a member's role has no canDeleteOtherMessage), and tells him", async () => {
    const renderedHello = await platformMessage(
      pair.b,
      mirrorId(),
      (a) => a.type === 'post' && a.body.text === HELLO_FROM_ALICE,
    );
    const del = await pair.b.platform.emitLocal(mirrorId(), BOB, {
      type: 'delete',
      target: { platformEventId: renderedHello.platformEventId },
    });
    await eventually(() =>
      expect(pair.b.platform.notices).toContainEqual(
        expect.objectContaining({ room: mirrorId(), about: del, text: expect.stringContaining('notAllowed') }),
      ),
    );
    const deletesOnA = room(pair.a, CLUB_ROOM_ID).timeline.filter(
      (e) => e.kind === 'message' && e.action.type === 'delete' && 'userUri' in e.sender,
    );
    expect(deletesOnA).toEqual([]);
    expect((await history(pair.a)).filter((e) => e.kind === 'delete' && e.senderUri === BOB_URI)).toEqual([]);
  });

  it('refuses a sender of another provider, a non-participant sender and a replayed old-epoch message', async () => {
    const [first] = await bobSubmissions();
    const oldMessage = first!.appMessage;

    expect(await submitAs(FOREIGN_URI, oldMessage)).toEqual({ protocol: 'mls10', statusCode: 'notAllowed' });
    expect(await submitAs(ALICE_URI, oldMessage)).toEqual({ protocol: 'mls10', statusCode: 'notAllowed' });
    expect(await submitAs(MALLORY_URI, oldMessage)).toEqual({ protocol: 'mls10', statusCode: 'notAllowed' });

    // Dave joins on A: a commit moves the room to a new epoch.
    const before = (await roomInfo(pair.a))!.epoch!;
    await pair.a.platform.emitEvent(membership(CLUB_ROOM_ID, DAVE, 'join'));
    const after = (await roomInfo(pair.a))!.epoch!;
    expect(after).toBeGreaterThan(before);
    expect(await submitAs(BOB_URI, oldMessage)).toEqual({
      protocol: 'mls10',
      statusCode: 'epochTooOld',
      currentEpoch: BigInt(after),
    });
    expect((await roomInfo(pair.a))!.participants).toContainEqual({ userUri: DAVE_URI, role: ParticipantRole.Member });
  });

  it('refuses /notify for a followed room from a provider that is not its hub', async () => {
    const res = await mimiPost(
      pair.b,
      { domain: DOMAIN_C, identity: pair.pki.cByCa, ca: pair.pki.ca },
      `/notify/${encodeURIComponent(roomUri)}`,
      await deliveredNotifyBody(),
    );
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ errcode: 'MIMI_FORBIDDEN' });
    // And A, which hosts the room, takes no /notify for it.
    const toHub = await mimiPost(
      pair.a,
      { domain: DOMAIN_B, identity: pair.pki.b, ca: pair.pki.ca },
      `/notify/${encodeURIComponent(roomUri)}`,
      await deliveredNotifyBody(),
    );
    expect(toHub.status).toBe(403);
  });

  it('processes a duplicate /notify body once and answers 201 again', async () => {
    const body = await deliveredNotifyBody();
    const before = await history(pair.b);
    const timeline = room(pair.b, mirrorId()).timeline.length;

    const res = await pair.a.running.app.get(MimiPeerClient).request(DOMAIN_B, 'notify', roomUri, body);

    expect(res.status).toBe(201);
    await pair.b.running.app.get(RenderWorker).idle();
    expect(await history(pair.b)).toEqual(before);
    expect(room(pair.b, mirrorId()).timeline).toHaveLength(timeline);
  });

  it('refuses a /notify whose application message the hub dated an hour ahead, and stores nothing of it (T32/T45)', async () => {
    const delivered = decodeFanoutBody(await deliveredNotifyBody('application'));
    const hourAhead = BigInt(Date.now() + 60 * 60_000);
    const before = await history(pair.b);

    const res = await mimiPost(
      pair.b,
      { domain: DOMAIN_A, identity: pair.pki.a, ca: pair.pki.ca },
      `/notify/${encodeURIComponent(roomUri)}`,
      encodeFanoutBody(delivered.map((m) => ({ ...m, timestamp: hourAhead }))),
    );

    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({
      errcode: 'MIMI_BAD_VALUE',
      error: expect.stringMatching(/accepted timestamp is more than 5 minutes in the future/),
    });
    await pair.b.running.app.get(RenderWorker).idle();
    expect(await history(pair.b)).toEqual(before);
  });

  it('adds a user who joins the mirror on B through /update, and that user can post', async () => {
    await pair.b.platform.emitEvent(membership(mirrorId(), CAROL, 'join'));

    await eventually(async () =>
      expect((await roomInfo(pair.a))!.participants).toContainEqual({
        userUri: CAROL_URI,
        role: ParticipantRole.Member,
      }),
    );
    expect(room(pair.a, CLUB_ROOM_ID).members.has(ghostOf(CAROL_URI))).toBe(true);
    await eventually(async () => expect((await roomInfo(pair.b))!.localMembers).toContain(CAROL_URI));
    await pair.b.platform.emitLocal(mirrorId(), CAROL, postText(FROM_CAROL));
    const onA = await platformMessage(pair.a, CLUB_ROOM_ID, (a) => a.type === 'post' && a.body.text === FROM_CAROL);
    expect(onA.sender).toEqual({ userUri: CAROL_URI });
  });

  it('refuses a change the follower user may not make, and tells the user', async () => {
    const kick = membership(mirrorId(), { userUri: ALICE_URI }, 'kick', BOB);
    await pair.b.platform.emitEvent(kick);

    expect(pair.b.platform.notices).toContainEqual(
      expect.objectContaining({
        room: mirrorId(),
        about: kick.platformEventId,
        text: expect.stringContaining('notAllowed'),
      }),
    );
    expect((await roomInfo(pair.a))!.participants).toContainEqual({ userUri: ALICE_URI, role: ParticipantRole.Owner });
  });

  it('applies a role change made on A to the participant list everywhere', async () => {
    await pair.a.platform.emitEvent({
      kind: 'role',
      room: memoryRoom(CLUB_ROOM_ID),
      platformEventId: nextEventId('role'),
      user: { userUri: BOB_URI },
      role: ParticipantRole.Moderator,
      by: ALICE,
      timestamp: now(),
    });
    await eventually(async () =>
      expect((await roomInfo(pair.b))!.participants).toContainEqual({
        userUri: BOB_URI,
        role: ParticipantRole.Moderator,
      }),
    );
  });

  it('serves /groupInfo to a participant of the calling provider, encrypted to its key, and signed by the hub', async () => {
    const signer = mimiSuite().signatureGenerateKeyPair();
    const hpke = hpkeKeyPair();
    const ask = async (user: string) => {
      const head = {
        protocol: 'mls10' as const,
        cipherSuite: MIMI_CIPHERSUITE_ID,
        requestingSignatureKey: signer.publicKey,
        requestingCredential: asCredential(basicCredentialBytes(user)),
        groupInfoPublicKey: hpke.publicKey,
      };
      const tbs = encodeValue(head, groupInfoRequestTbsCodec);
      const signature = signWithLabel(signer.privateKey, 'GroupInfoRequestTBS', tbs);
      const body = encodeValue({ ...head, joiningCode: new Uint8Array(0), signature }, groupInfoRequestCodec);
      const res = await pair.b.running.app.get(MimiPeerClient).request(DOMAIN_A, 'groupInfo', roomUri, body);
      expect(res.status).toBe(200);
      return decodeAll(res.body, groupInfoResponseCodec);
    };

    const granted = await ask(CAROL_URI);
    expect(granted.status).toBe('success');
    if (granted.status !== 'success') return;
    const plaintext = decryptWithLabel(
      hpke.privateKey,
      'GroupInfo and ratchet_tree encryption',
      new TextEncoder().encode(roomUri),
      granted.encryptedGroupInfoAndTree,
    );
    const tbe = decodeAll(plaintext, groupInfoRatchetTreeTbeCodec);
    expect(inspectMlsMessage(frameMlsMessage('mls_group_info', tbe.groupInfo)).epoch).toBe(
      BigInt((await roomInfo(pair.a))!.epoch!),
    );
    const signed = verifyWithLabel(
      granted.hubSender.signatureKey,
      'GroupInfoResponseTBS',
      encodeValue(groupInfoResponseTbs(granted), groupInfoResponseTbsCodec),
      granted.signature,
    );
    expect(signed).toBe(true);
    expect((await ask(MALLORY_URI)).status).toBe('notAuthorized');
    expect((await ask(ALICE_URI)).status).toBe('notAuthorized');
  });

  it('keeps submitting while the platform of the hub is down, and posts the message once when it is back', async () => {
    let attempts = 0;
    const post = pair.a.platform.post.bind(pair.a.platform);
    pair.a.platform.post = (...args) => {
      attempts += 1;
      return post(...args);
    };
    pair.a.platform.failWith = new PlatformError(ErrorCode.PlatformUnavailable, 'the homeserver is down');
    try {
      await pair.b.platform.emitLocal(mirrorId(), CAROL, postText(WHILE_A_IS_DOWN));
      await eventually(() => expect(attempts).toBeGreaterThanOrEqual(2));
    } finally {
      pair.a.platform.failWith = undefined;
    }
    await platformMessage(pair.a, CLUB_ROOM_ID, (a) => a.type === 'post' && a.body.text === WHILE_A_IS_DOWN);
    await messageWithText(pair.b, WHILE_A_IS_DOWN);
    pair.a.platform.post = post;
    const copies = room(pair.a, CLUB_ROOM_ID).timeline.filter(
      (e) => e.kind === 'message' && e.action.type === 'post' && e.action.body.text === WHILE_A_IS_DOWN,
    );
    expect(copies).toHaveLength(1);
  });

  it('completes a submission from the platform echo when the answer to the post was lost', async () => {
    const post = pair.a.platform.post.bind(pair.a.platform);
    let lost = 0;
    pair.a.platform.post = async (...args) => {
      await post(...args);
      if (lost++ === 0) throw new PlatformError(ErrorCode.Timeout, 'the answer of the homeserver was lost');
      return post(...args);
    };
    try {
      await pair.b.platform.emitLocal(mirrorId(), CAROL, postText(ANSWER_LOST));
      await messageWithText(pair.b, ANSWER_LOST);
    } finally {
      pair.a.platform.post = post;
    }
    const onA = await messageWithText(pair.a, ANSWER_LOST);
    expect(onA.senderUri).toBe(CAROL_URI);
    const copies = room(pair.a, CLUB_ROOM_ID).timeline.filter(
      (e) => e.kind === 'message' && e.action.type === 'post' && e.action.body.text === ANSWER_LOST,
    );
    expect(copies).toHaveLength(1);
    expect((await history(pair.b)).filter((e) => e.content.text === ANSWER_LOST)).toHaveLength(1);
  });

  it("keeps a B user's messages in order when the first must be encrypted again (epochTooOld)", async () => {
    // Bob's first message waits on B (A unreachable) while A moves to a new epoch; his second is
    // written in the new epoch. The first, answered epochTooOld, is encrypted again: it must still
    // go before the second.
    const hub = holdSubmissionsOfB(pair);
    try {
      await pair.b.platform.emitLocal(mirrorId(), BOB, postText(BEFORE_THE_EPOCH_CHANGE));
      await eventually(() => expect(hub.refused()).toBeGreaterThanOrEqual(1));
      await pair.a.platform.emitEvent(membership(CLUB_ROOM_ID, ERIN, 'join'));
      const epoch = (await roomInfo(pair.a))!.epoch!;
      await eventually(async () => expect((await roomInfo(pair.b))!.epoch).toBe(epoch));
      await pair.b.platform.emitLocal(mirrorId(), BOB, postText(AFTER_THE_EPOCH_CHANGE));
      hub.reach();
      await messageWithText(pair.b, AFTER_THE_EPOCH_CHANGE);
      await messageWithText(pair.b, BEFORE_THE_EPOCH_CHANGE);
    } finally {
      hub.restore();
    }
    const inOrder = [BEFORE_THE_EPOCH_CHANGE, AFTER_THE_EPOCH_CHANGE];
    const postedOnA = room(pair.a, CLUB_ROOM_ID)
      .timeline.flatMap((e) => (e.kind === 'message' && e.action.type === 'post' ? [e.action.body.text] : []))
      .filter((t) => inOrder.includes(t));
    expect(postedOnA).toEqual(inOrder);
    const texts = (await history(pair.b)).map((e) => e.content.text).filter((t) => inOrder.includes(t as string));
    expect(texts).toEqual(inOrder);
    // What came back confirms the ciphertext the hub took, not the one it replaced.
    const submissions = pair.b.running.app.get(RoomSubmissionRepository, { strict: false });
    const first = await messageWithText(pair.b, BEFORE_THE_EPOCH_CHANGE);
    const versions = await submissions.findByMessageId(undefined, roomUri, first.messageId, 'out');
    expect(versions.map((s) => s.status)).toEqual(['confirmed', 'rejected']);
  });

  it('catches B up in order after B was stopped, with nothing doubled', async () => {
    const peerOfA = pair.a.running.app.get(MimiPeerClient);
    const deliver = peerOfA.deliver.bind(peerOfA);
    const notifyBodies: Uint8Array[] = [];
    const spy = jest.spyOn(peerOfA, 'deliver').mockImplementation(async (delivery, signal) => {
      if (delivery.destination === DOMAIN_B && delivery.endpoint === 'notify') notifyBodies.push(delivery.body);
      return deliver(delivery, signal);
    });
    await pair.stopB();
    for (const text of WHILE_B_IS_DOWN) await pair.a.platform.emitLocal(CLUB_ROOM_ID, ALICE, postText(text));
    await pair.restartB();

    const last = WHILE_B_IS_DOWN[WHILE_B_IS_DOWN.length - 1]!;
    await platformMessage(pair.b, mirrorId(), (a) => a.type === 'post' && a.body.text === last);
    const texts = (await history(pair.b))
      .map((e) => e.content.text)
      .filter((t) => WHILE_B_IS_DOWN.includes(t as string));
    expect(texts).toEqual(WHILE_B_IS_DOWN);
    const rendered = room(pair.b, mirrorId())
      .timeline.filter((e) => e.kind === 'message' && e.action.type === 'post')
      .map((e) => (e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : ''))
      .filter((t) => WHILE_B_IS_DOWN.includes(t));
    expect(rendered).toEqual(WHILE_B_IS_DOWN);
    spy.mockRestore();
    // The backlog travelled in combined requests (protocol-06 §5.5), which B took in one go each.
    expect(Math.max(...notifyBodies.map((b) => decodeFanoutBody(b).length))).toBeGreaterThan(1);
  });

  it('removes a user kicked on A: B no longer receives or can decrypt later messages', async () => {
    const epochBefore = (await roomInfo(pair.a))!.epoch!;
    await pair.a.platform.emitEvent(membership(CLUB_ROOM_ID, { userUri: BOB_URI }, 'kick', ALICE));

    await eventually(async () => expect((await roomInfo(pair.b))!.localMembers).not.toContain(BOB_URI));
    // ONE commit: the Remove of bob's client and his participant entry together (protocol-06 §5.3).
    expect((await roomInfo(pair.a))!.epoch).toBe(epochBefore + 1);
    expect((await roomInfo(pair.a))!.participants.map((p) => p.userUri)).not.toContain(BOB_URI);
    expect((await roomInfo(pair.a))!.members).not.toContain(BOB_URI);

    await pair.a.platform.emitLocal(CLUB_ROOM_ID, ALICE, postText(AFTER_REMOVAL));
    // Carol (still in) receives it; bob's client cannot read it.
    await messageWithText(pair.b, AFTER_REMOVAL);
    // B got the message for carol; bob's client (removed) cannot read that ciphertext.
    const fanout = await found(async () => {
      const [latest] = decodeFanoutBody(await deliveredNotifyBody());
      return latest?.messageKind === 'application' ? latest : undefined;
    }, 'the delivered message');
    // B's gateway keeps no key of bob's: its group has carol only, and bob is no member.
    const groupB = (await pair.b.running.app.get(MlsGroups).group(roomUri))!;
    expect(groupB.isLocalMember(BOB_URI)).toBe(false);
    expect(groupB.summary().members.map((m) => m.user)).not.toContain(BOB_URI);
    // The message is of an epoch whose tree has no leaf of bob's: nothing he held opens it.
    expect(inspectMlsMessage(fanout.message).epoch).toBe(groupB.epoch);
  });
});

/** The latest /notify body A delivered to B (from A's outbox), or the latest with a message of `kind`. */
async function deliveredNotifyBody(kind?: 'application'): Promise<Uint8Array> {
  const dataSource = pair.a.running.app.get(DataSource, { strict: false });
  const [p1, p2] = dataSource.options.type === 'postgres' ? ['$1', '$2'] : ['?', '?'];
  const rows = (await dataSource.query(
    `SELECT body FROM outbox_entry WHERE destination = ${p1} AND room_uri = ${p2} AND status = 'delivered'
       AND endpoint = 'notify' ORDER BY stream_seq DESC`,
    [DOMAIN_B, roomUri],
  )) as { body: Buffer }[];
  const bodies = rows.map((r) => new Uint8Array(r.body));
  const body =
    kind === undefined ? bodies[0] : bodies.find((b) => decodeFanoutBody(b).some((m) => m.messageKind === kind));
  if (body === undefined) throw new Error(`A delivered no /notify body${kind === undefined ? '' : ` with a ${kind}`}`);
  return body;
}
