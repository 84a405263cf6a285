/**
 * Security at the hub (issue 9): a follower's commit may change the GroupContext only through the
 * participant-list AppDataUpdates the room policy allows, and the legacy room changes only after
 * the commit verified. And who may submit a message (issue 14 item 6): every sender check of
 * `HubService.submitMessage` has a test that fails without it. Two in-process gateways (A hubs,
 * B follows), memory platforms, real mTLS.
 */
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import { MimiPeerClient } from '../../src/mimi/transport';
import { DOMAIN_A, DOMAIN_B } from '../kits/mimi/transport-fixtures';
import {
  asGroupInfo,
  asMlsMessage,
  decodeAll,
  encodeValue,
  updateRequestCodec,
  updateRoomResponseCodec,
} from '../../src/mimi/wire';
import { type GatewayStagedCommit, hpkeKeyPair } from '../../src/mls';
import { propose } from '../../src/mls/core/group';
import {
  ExtensionType,
  externalSendersExtension,
  findExtension,
  makeExtension,
  requiredCapabilitiesExtension,
  type Extension,
} from '../../src/mls/core/structs';
import { encodeMimiContentWithId } from '../../src/mimi/content';
import { type LegacyUserRef, ParticipantRole } from '../../src/ports';
import { MlsGroups, type RoomInfo, contentForAction, legacyUserUri } from '../../src/rooms';
import { GHOST_PREFIX, MIRROR_PREFIX } from '../fakes/memory-platform';
import { DATABASE_KINDS } from '../support/test-data-source';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GatewayPair, admin, eventually, found, memoryRoom, roomHistory, submitFromB, inviteOnA } from './gateway-pair';

const ROOM_ID = '!secure:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');
const DAVE_URI = legacyUserUri(DOMAIN_B, 'memory', 'dave');
const CAROL_URI = legacyUserUri(DOMAIN_B, 'memory', 'carol');
const MEMBER_ROLE_INDEX = 3;
const NOT_ALLOWED = { protocol: 'mls10', statusCode: 'notAllowed' };

let pair: GatewayPair;
let roomUri: RoomUri;
let seq = 0;

async function roomInfo(gw: GatewayPair['a']): Promise<RoomInfo | undefined> {
  return (await admin<RoomInfo[]>(gw, 'GET', '/provisioning/rooms')).body.find((r) => r.roomUri === roomUri);
}

const ghostOf = (user: UserUri): string => `${GHOST_PREFIX}${user}`;

/** A post of `user` encrypted by `user`'s client on B, never submitted: new bytes for the hub. */
async function newMessage(user: UserUri, text: string): Promise<Uint8Array> {
  const content = await contentForAction(
    { type: 'post', body: { kind: 'text', text } },
    { senderUri: user, roomUri, messageIdOf: async () => undefined },
  );
  const group = (await pair.b.running.app.get(MlsGroups).group(roomUri))!;
  return group.encrypt(user, encodeMimiContentWithId(content!, user, roomUri).bytes);
}

/** The texts posted in the legacy room on A. */
function postedOnA(): string[] {
  return pair.a.platform.rooms
    .get(ROOM_ID)!
    .timeline.flatMap((e) => (e.kind === 'message' && e.action.type === 'post' ? [e.action.body.text] : []));
}

/** Wait until B's group is at A's epoch (the hub's last commit arrived). */
async function bCaughtUp(): Promise<void> {
  const epoch = (await roomInfo(pair.a))!.epoch;
  await eventually(async () => expect((await roomInfo(pair.b))!.epoch).toBe(epoch));
}

/** Send a staged commit of B's (as `/update` from B) and drop it on B, whatever the answer. */
async function sendFromB(staged: GatewayStagedCommit, bytes = staged.commit) {
  const group = (await pair.b.running.app.get(MlsGroups).group(roomUri))!;
  try {
    const body = encodeValue(
      {
        bundle: {
          proposalOrCommit: asMlsMessage(bytes),
          contentType: 'commit',
          groupInfoOption: { representation: 'full', groupInfo: asGroupInfo(staged.groupInfo) },
          ratchetTreeOption: { representation: 'full', ratchetTree: staged.ratchetTree },
        },
      },
      updateRequestCodec,
    );
    const res = await pair.b.running.app.get(MimiPeerClient).request(DOMAIN_A, 'update', roomUri, body);
    expect(res.status).toBe(200);
    return decodeAll(res.body, updateRoomResponseCodec);
  } finally {
    await group.discardStagedCommit();
  }
}

describe.each(DATABASE_KINDS)('security at the hub on %s', (kind) => {
  beforeAll(async () => {
    pair = await GatewayPair.start(kind);
    const secure = pair.a.platform.createRoom(ROOM_ID, 'Secure');
    secure.members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    roomUri = (
      await admin<{ roomUri: RoomUri }>(pair.a, 'POST', '/provisioning/rooms', { platform: 'memory', roomId: ROOM_ID })
    ).body.roomUri;
    await inviteOnA(pair, ROOM_ID, ALICE, BOB_URI, `$invite-${++seq}`);
    await found(() => roomInfo(pair.b), 'the room on B');
    await eventually(async () => expect((await roomInfo(pair.b))!.localMembers).toContain(BOB_URI));
    await inviteOnA(pair, ROOM_ID, ALICE, CAROL_URI, `$invite-${++seq}`);
    await eventually(async () => expect((await roomInfo(pair.b))!.localMembers).toContain(CAROL_URI));
    await bCaughtUp();
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('refuses a follower commit that rewrites external_senders or another extension; the legacy room is unchanged', async () => {
    const before = await roomInfo(pair.a);
    const members = [...pair.a.platform.rooms.get(ROOM_ID)!.members.keys()];
    const group = (await pair.b.running.app.get(MlsGroups).group(roomUri))!;
    const extensions: Extension[] = [...group.coreState.context.extensions];
    const senders = findExtension(extensions, externalSendersExtension)!;
    const mallory = hpkeKeyPair(); // any 32 bytes: a key that is not the hub's
    const rewritten = extensions.map((e) =>
      e.extensionType === ExtensionType.external_senders
        ? makeExtension(externalSendersExtension, [{ ...senders[0]!, signatureKey: mallory.publicKey }])
        : e,
    );
    const duplicated = extensions.map((e) =>
      e.extensionType === ExtensionType.external_senders
        ? makeExtension(externalSendersExtension, [senders[0]!, { ...senders[0]!, signatureKey: mallory.publicKey }])
        : e,
    );
    // The other rewrite: required_capabilities replaced (here: emptied).
    const capabilities = extensions.map((e) =>
      e.extensionType === ExtensionType.required_capabilities
        ? makeExtension(requiredCapabilitiesExtension, { extensionTypes: [], proposalTypes: [], credentialTypes: [] })
        : e,
    );
    for (const next of [rewritten, duplicated, capabilities]) {
      const staged = await group.stageCommit(BOB_URI, {
        proposals: [propose.groupContextExtensions(next)],
        includePending: false,
      });
      const answer = await sendFromB(staged);
      expect(answer).toMatchObject({
        responseCode: 'notAllowed',
        errorDescription: expect.stringMatching(/GroupContext/),
      });
    }
    const after = await roomInfo(pair.a);
    expect(after!.epoch).toBe(before!.epoch);
    expect(after!.participants).toEqual(before!.participants);
    expect([...pair.a.platform.rooms.get(ROOM_ID)!.members.keys()]).toEqual(members);
  });

  it('changes nothing on the platform for a commit with a corrupted membership tag', async () => {
    const before = await roomInfo(pair.a);
    const group = (await pair.b.running.app.get(MlsGroups).group(roomUri))!;
    // Bob adds dave (B's user) with his participant entry: a valid commit would make dave's ghost join on A.
    const staged = await group.stageCommit(BOB_URI, {
      addLocal: [DAVE_URI],
      participants: [...group.summary().participants, { user: DAVE_URI, roleIndex: 3 }],
    });
    const corrupted = Uint8Array.from(staged.commit);
    corrupted[corrupted.length - 1]! ^= 0x01; // the last byte of the membership tag
    const answer = await sendFromB(staged, corrupted);
    expect(answer).toMatchObject({
      responseCode: 'notAllowed',
      errorDescription: expect.stringMatching(/membership_tag does not verify/),
    });
    const after = await roomInfo(pair.a);
    expect(after!.epoch).toBe(before!.epoch);
    expect(after!.participants).toEqual(before!.participants);
    expect(pair.a.platform.rooms.get(ROOM_ID)!.members.has(ghostOf(DAVE_URI))).toBe(false);
    expect(pair.b.platform.rooms.get(`${MIRROR_PREFIX}${roomUri}`)).toBeDefined();
  });
  it('refuses identical bytes sent again under another sender (the sender is checked before the hash dedupe)', async () => {
    const text = 'carol, once';
    const bytes = await newMessage(CAROL_URI, text);
    expect(await submitFromB(pair, roomUri, CAROL_URI, bytes)).toMatchObject({ statusCode: 'accepted' });

    expect(await submitFromB(pair, roomUri, BOB_URI, bytes)).toEqual(NOT_ALLOWED);
    // Carol's own retry is still answered from the dedupe, and the message is posted once.
    expect(await submitFromB(pair, roomUri, CAROL_URI, bytes)).toMatchObject({ statusCode: 'accepted' });
    expect(postedOnA().filter((t) => t === text)).toHaveLength(1);
  });

  it('fans a submitMessage replayed by the same sender in the same epoch out once: one event, one outbox row per follower (T23)', async () => {
    const text = 'carol, replayed in the same epoch';
    const bytes = await newMessage(CAROL_URI, text);
    const first = await submitFromB(pair, roomUri, CAROL_URI, bytes);
    expect(first).toMatchObject({ statusCode: 'accepted' });
    const epoch = (await roomInfo(pair.a))!.epoch;
    for (let replay = 0; replay < 3; replay++) {
      expect(await submitFromB(pair, roomUri, CAROL_URI, bytes)).toEqual(first);
    }
    expect((await roomInfo(pair.a))!.epoch).toBe(epoch);
    // The hub's fan-out: exactly one outbox row carries these bytes, to B (the only follower), and
    // it is delivered (B answered it) once.
    const carrying = async () =>
      (
        (await pair.a.running.app.get(DataSource).query('SELECT destination, status, body FROM outbox_entry')) as {
          destination: string;
          status: string;
          body: Uint8Array;
        }[]
      )
        .filter((row) => Buffer.from(row.body).includes(Buffer.from(bytes)))
        .map(({ destination, status }) => ({ destination, status }));
    await eventually(async () => expect(await carrying()).toEqual([{ destination: DOMAIN_B, status: 'delivered' }]));
    // Once in the hub's history and once in the legacy room.
    expect((await roomHistory(pair.a, roomUri)).filter((e) => e.content.text === text)).toHaveLength(1);
    expect(postedOnA().filter((t) => t === text)).toHaveLength(1);
  });

  it('logs an audit warning naming the peer, the claimed sender and the reason for a forged sender (T24)', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const forged = 'mimi://c.example/u/mallory' as UserUri;
      const bytes = await newMessage(CAROL_URI, 'carol, claimed by mallory');
      expect(await submitFromB(pair, roomUri, forged, bytes)).toEqual(NOT_ALLOWED);
      expect(warn).toHaveBeenCalledWith(
        expect.objectContaining({
          audit: 'hub-refusal',
          endpoint: 'submitMessage',
          peer: DOMAIN_B,
          roomUri,
          claimedSender: forged,
          reason: `${DOMAIN_B} may not send for ${forged}`,
        }),
      );
      // A commit of B's adding a third provider's user: refused with the committer named.
      warn.mockClear();
      const group = (await pair.b.running.app.get(MlsGroups).group(roomUri))!;
      const staged = await group.stageCommit(BOB_URI, {
        participants: [...group.summary().participants, { user: forged, roleIndex: MEMBER_ROLE_INDEX }],
      });
      expect(await sendFromB(staged)).toMatchObject({ responseCode: 'notAllowed' });
      expect(warn).toHaveBeenCalledWith(
        expect.objectContaining({
          audit: 'hub-refusal',
          endpoint: 'update',
          peer: DOMAIN_B,
          roomUri,
          claimedSender: BOB_URI,
          reason: expect.stringContaining(forged),
        }),
      );
      expect((await roomInfo(pair.a))!.participants.map((p) => p.userUri)).not.toContain(forged);
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses a visitor with a client who submits straight to the hub', async () => {
    await pair.a.platform.emitEvent({
      kind: 'role',
      room: memoryRoom(ROOM_ID),
      platformEventId: `$role-${++seq}`,
      user: { userUri: BOB_URI },
      role: ParticipantRole.Visitor,
      by: ALICE,
      timestamp: Date.now(),
    });
    await eventually(async () =>
      expect((await roomInfo(pair.b))!.participants).toContainEqual({
        userUri: BOB_URI,
        role: ParticipantRole.Visitor,
      }),
    );
    await bCaughtUp();
    expect((await roomInfo(pair.a))!.members).toContain(BOB_URI);
    const text = 'a visitor speaks';

    expect(await submitFromB(pair, roomUri, BOB_URI, await newMessage(BOB_URI, text))).toEqual(NOT_ALLOWED);
    expect(postedOnA()).not.toContain(text);
  });

  it('refuses a participant without a client, also for new bytes of an earlier epoch (no epochTooOld)', async () => {
    const earlier = await newMessage(CAROL_URI, 'carol, before dave was listed');
    // Carol lists dave (a B user) as a member without adding a client of his.
    const group = (await pair.b.running.app.get(MlsGroups).group(roomUri))!;
    const staged = await group.stageCommit(CAROL_URI, {
      participants: [...group.summary().participants, { user: DAVE_URI, roleIndex: MEMBER_ROLE_INDEX }],
    });
    expect(await sendFromB(staged)).toMatchObject({ responseCode: 'success' });
    await bCaughtUp();
    const info = (await roomInfo(pair.a))!;
    expect(info.participants).toContainEqual({ userUri: DAVE_URI, role: ParticipantRole.Member });
    expect(info.members).not.toContain(DAVE_URI);

    expect(await submitFromB(pair, roomUri, DAVE_URI, earlier)).toEqual(NOT_ALLOWED);
    const current = await newMessage(CAROL_URI, 'carol, after dave was listed');
    expect(await submitFromB(pair, roomUri, DAVE_URI, current)).toEqual(NOT_ALLOWED);
    // Nothing of carol's message was used up by the refusal.
    expect(await submitFromB(pair, roomUri, CAROL_URI, current)).toMatchObject({ statusCode: 'accepted' });
  });
  // Runs last: bob's sending ratchet is left far ahead of the hub's.
  it('refuses a message it cannot decrypt (a generation outside its window) with notAllowed, not a 500 the follower retries forever (T40)', async () => {
    const group = (await pair.b.running.app.get(MlsGroups).group(roomUri))!;
    // Bob's client moves its sending ratchet on by more than the hub keeps keys for (maxForward).
    for (let i = 0; i < 1001; i += 1) await group.encrypt(BOB_URI, Uint8Array.of(i & 0xff));
    const bytes = await newMessage(BOB_URI, 'from too far ahead');
    expect(await submitFromB(pair, roomUri, BOB_URI, bytes)).toEqual(NOT_ALLOWED);
    expect(postedOnA()).not.toContain('from too far ahead');
  }, 60_000);
});
