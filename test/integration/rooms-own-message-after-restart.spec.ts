/**
 * Found by the soak (issue 14, test/soak): a follower that restarts between submitting its user's
 * message and the hub's /notify bringing it back could not recognise it any more (the MLS group's
 * memory of what it sent is in memory only, and the message's key is used up), logged "cannot
 * decrypt a message: … generation … already used" and dropped it: the follower's history lacked
 * its own user's message, and the submission stayed unconfirmed. The submission record (by the
 * ciphertext's hash) identifies it.
 */
import { Platform, type RoomUri } from '../../src/common/ids';
import { MimiPeerClient } from '../../src/mimi/transport';
import { type LegacyUserRef, ParticipantRole } from '../../src/ports';
import { type RoomEventInfo, type RoomInfo, legacyUserUri } from '../../src/rooms';
import { RoomSubmissionRepository } from '../../src/persistence/repositories/room-submission.repository';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { DATABASE_KINDS } from '../support/test-data-source';
import { GatewayPair, type GatewayUnderTest, admin, eventually, found, inviteOnA } from './gateway-pair';

const CLUB = '!club:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const BOB: LegacyUserRef = { platform: Platform.Memory, userId: 'bob' };
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');
const SAID_BEFORE_THE_RESTART = 'bob, just before B restarts';

describe.each(DATABASE_KINDS)('a follower restarting before its own message comes back (%s)', (kind) => {
  let pair: GatewayPair;
  let roomUri: RoomUri;

  const history = async (gw: GatewayUnderTest): Promise<RoomEventInfo[]> =>
    (await admin<RoomEventInfo[]>(gw, 'GET', `/provisioning/rooms/${encodeURIComponent(roomUri)}/events`)).body;
  const roomOn = async (gw: GatewayUnderTest): Promise<RoomInfo | undefined> =>
    (await admin<RoomInfo[]>(gw, 'GET', '/provisioning/rooms')).body.find((r) => r.roomUri === roomUri);

  beforeAll(async () => {
    pair = await GatewayPair.start(kind);
    pair.a.platform.createRoom(CLUB, 'Club').members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    roomUri = (
      await admin<{ roomUri: RoomUri }>(pair.a, 'POST', '/provisioning/rooms', { platform: 'memory', roomId: CLUB })
    ).body.roomUri;
    await inviteOnA(pair, CLUB, ALICE, BOB_URI, '$invite-bob');
    await found(() => roomOn(pair.b), 'the room on B');
  }, 60_000);

  afterAll(() => pair?.stop());

  it("stores the message and confirms the submission when it comes back after B's restart", async () => {
    // A accepts bob's message but holds its /notify to B until B has restarted.
    const peerOfA = pair.a.running.app.get(MimiPeerClient);
    const deliver = peerOfA.deliver.bind(peerOfA);
    let holding = true;
    const spy = jest.spyOn(peerOfA, 'deliver').mockImplementation(async (delivery, signal) => {
      if (holding && delivery.destination === DOMAIN_B && delivery.endpoint === 'notify') {
        return { kind: 'retry', reason: 'held by the test' };
      }
      return deliver(delivery, signal);
    });
    try {
      await pair.b.platform.emitLocal(`${MIRROR_PREFIX}${roomUri}`, BOB, {
        type: 'post',
        body: { kind: 'text', text: SAID_BEFORE_THE_RESTART },
      });
      const onA = await found(
        async () => (await history(pair.a)).find((e) => e.content.text === SAID_BEFORE_THE_RESTART),
        'the message accepted by A',
      );
      await pair.stopB();
      await pair.restartB();
      holding = false;
      const onB = await found(
        async () => (await history(pair.b)).find((e) => e.messageId === onA.messageId),
        "bob's message in B's history",
      );
      expect(onB).toMatchObject({ senderUri: BOB_URI, content: { text: SAID_BEFORE_THE_RESTART } });
      const submissions = pair.b.running.app.get(RoomSubmissionRepository, { strict: false });
      await eventually(async () =>
        expect(
          (await submissions.findByMessageId(undefined, roomUri, onA.messageId, 'out')).map((s) => s.status),
        ).toEqual(['confirmed']),
      );
      expect(onA.senderUri).toBe(BOB_URI);
    } finally {
      spy.mockRestore();
    }
  });
});
