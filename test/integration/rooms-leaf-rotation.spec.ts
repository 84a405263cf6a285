/**
 * Scheduled leaf-key rotation through the rooms layer (issue 9): with `mls.leafKeyMaxMessages`
 * at 2, a puppet's second message makes it rotate its leaf key (an UpdatePath commit of its own):
 * on the hub A the commit is accepted at once and fanned out, on the follower B it goes to A with
 * /update. The other gateway applies each rotation and keeps decrypting the messages after it.
 */
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import type { LegacyUserRef, MessageAction } from '../../src/ports';
import { LeafKeyRotation, MlsGroups, type RoomInfo, legacyUserUri } from '../../src/rooms';
import { DOMAIN_A, DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { ParticipantRole } from '../../src/ports';
import { GatewayPair, type GatewayUnderTest, admin, eventually, found, inviteOnA } from './gateway-pair';

const ROOM_ID = '!rotation:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const BOB: LegacyUserRef = { platform: Platform.Memory, userId: 'bob' };
const ALICE_URI = legacyUserUri(DOMAIN_A, 'memory', 'alice');
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');

let pair: GatewayPair;
let roomUri: RoomUri;

const post = (text: string): MessageAction => ({ type: 'post', body: { kind: 'text', text } });
const mirrorId = (): string => `${MIRROR_PREFIX}${roomUri}`;

/** The room's epoch on `gw`; -1 while `gw` holds no group for it. */
async function epochOn(gw: GatewayUnderTest): Promise<number> {
  const res = await admin<RoomInfo[]>(gw, 'GET', '/provisioning/rooms');
  return res.body.find((r) => r.roomUri === roomUri)?.epoch ?? -1;
}

/** The encryption key of `user`'s leaf as gateway `gw` holds the group. */
async function leafKeyOf(gw: GatewayUnderTest, user: UserUri): Promise<string> {
  const group = (await gw.running.app.get(MlsGroups, { strict: false }).group(roomUri))!;
  const member = group.summary().members.find((m) => m.user === user)!;
  return Buffer.from(group.coreState.tree.leafNode(member.leafIndex)!.encryptionKey).toString('hex');
}

async function seenOn(gw: GatewayUnderTest, text: string): Promise<void> {
  await found(async () => {
    const res = await admin<{ content: { text?: string } }[]>(
      gw,
      'GET',
      `/provisioning/rooms/${encodeURIComponent(roomUri)}/events`,
    );
    return res.body.find((e) => e.content.text === text);
  }, `"${text}" on ${gw.domain}`);
}

describe('scheduled leaf-key rotation between two gateways', () => {
  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite', { mls: { leafKeyMaxMessages: 2, rotationSweepSeconds: 0 } });
    const club = pair.a.platform.createRoom(ROOM_ID, 'Rotation');
    club.members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    const res = await admin<{ roomUri: RoomUri }>(pair.a, 'POST', '/provisioning/rooms', {
      platform: 'memory',
      roomId: ROOM_ID,
    });
    roomUri = res.body.roomUri;
    await inviteOnA(pair, ROOM_ID, ALICE, BOB_URI, '$invite-bob');
    await eventually(async () => expect(await epochOn(pair.b)).toBe(await epochOn(pair.a)));
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it("a hub puppet past the message limit rotates; B applies the commit and decrypts alice's next message", async () => {
    await pair.a.platform.emitLocal(ROOM_ID, ALICE, post('alice 1'));
    await seenOn(pair.b, 'alice 1');
    const before = { epoch: await epochOn(pair.a), key: await leafKeyOf(pair.a, ALICE_URI) };
    expect(await leafKeyOf(pair.b, ALICE_URI)).toBe(before.key);

    await pair.a.platform.emitLocal(ROOM_ID, ALICE, post('alice 2'));
    await eventually(async () => expect(await epochOn(pair.a)).toBe(before.epoch + 1));
    const rotated = await leafKeyOf(pair.a, ALICE_URI);
    expect(rotated).not.toBe(before.key);
    await eventually(async () => expect(await epochOn(pair.b)).toBe(before.epoch + 1));
    expect(await leafKeyOf(pair.b, ALICE_URI)).toBe(rotated);

    await pair.a.platform.emitLocal(ROOM_ID, ALICE, post('alice 3, new key'));
    await seenOn(pair.b, 'alice 3, new key');
    // The counter starts again with the new key: one message is not enough for another rotation.
    expect(await pair.a.running.app.get(LeafKeyRotation, { strict: false }).rotateDue(roomUri)).toEqual([]);
  });

  it('a follower puppet past the limit rotates through /update; A applies it and decrypts bob after it', async () => {
    await pair.b.platform.emitLocal(mirrorId(), BOB, post('bob 1'));
    await seenOn(pair.a, 'bob 1');
    const before = { epoch: await epochOn(pair.b), key: await leafKeyOf(pair.b, BOB_URI) };

    await pair.b.platform.emitLocal(mirrorId(), BOB, post('bob 2'));
    await eventually(async () => expect(await epochOn(pair.a)).toBe(before.epoch + 1));
    await eventually(async () => expect(await epochOn(pair.b)).toBe(before.epoch + 1));
    const rotated = await leafKeyOf(pair.b, BOB_URI);
    expect(rotated).not.toBe(before.key);
    expect(await leafKeyOf(pair.a, BOB_URI)).toBe(rotated);

    await pair.b.platform.emitLocal(mirrorId(), BOB, post('bob 3, new key'));
    await seenOn(pair.a, 'bob 3, new key');
    await pair.a.platform.emitLocal(ROOM_ID, ALICE, post('alice 4'));
    await seenOn(pair.b, 'alice 4');
  });
});
