/**
 * Found by the T40 e2e (test/e2e/one-room-three-sources.e2e-spec.ts, seed 734618): a follower's
 * message answered `epochTooOld` was encrypted again with the NEXT generation of its client's
 * ratchet, but kept its place at the head of the submission queue, ahead of messages the same
 * client had written meanwhile with LOWER generations. The hub keeps keys of at most 64 skipped
 * generations: once more than that lay between, the messages behind were refused as
 * "application generation … already used or dropped" and never reached the room. (No key and
 * nonce was used twice: every ciphertext had its own generation; they just went out of order.)
 */
import { Platform, type RoomUri } from '../../src/common/ids';
import { RoomSubmissionRepository } from '../../src/persistence/repositories/room-submission.repository';
import { type LegacyUserRef, ParticipantRole } from '../../src/ports';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { DATABASE_KINDS } from '../support/test-data-source';
import {
  ALICE_ON_A as ALICE,
  BOB_ON_B as BOB,
  BOB_ON_B_URI as BOB_URI,
  GatewayPair,
  eventually,
  found,
  holdSubmissionsOfB,
  inviteOnA,
  linkMemoryRoom,
  memoryRoom,
  roomHistory,
  roomOn,
} from './gateway-pair';

const CLUB = '!club:a.example';
const ERIN: LegacyUserRef = { platform: Platform.Memory, userId: 'erin' };
/** More than the 64 skipped generations a receiver keeps keys for (src/mls/core/secret-tree.ts). */
const WRITTEN_AFTER = 70;
const FIRST = 'bob, first, written before erin joined';
const LATER = Array.from({ length: WRITTEN_AFTER }, (_, i) => `bob, later #${i + 1}, written after erin joined`);

describe.each(DATABASE_KINDS)('a follower encrypting a message again after epochTooOld (%s)', (kind) => {
  let pair: GatewayPair;
  let roomUri: RoomUri;

  beforeAll(async () => {
    pair = await GatewayPair.start(kind);
    pair.a.platform.createRoom(CLUB, 'Club').members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    roomUri = await linkMemoryRoom(pair.a, CLUB);
    await inviteOnA(pair, CLUB, ALICE, BOB_URI, '$invite-bob');
    await found(() => roomOn(pair.b, roomUri), 'the room on B');
  }, 60_000);

  afterAll(() => pair?.stop());

  it('sends it in order with the messages written behind it, and the hub takes every one', async () => {
    // Bob's first message waits on B (A unreachable) while A moves to a new epoch; then he writes
    // more messages than the hub keeps skipped keys for, in the new epoch, queued behind the first.
    const hub = holdSubmissionsOfB(pair);
    const mirror = `${MIRROR_PREFIX}${roomUri}`;
    const post = (text: string) =>
      pair.b.platform.emitLocal(mirror, BOB, { type: 'post', body: { kind: 'text', text } });
    try {
      await post(FIRST);
      await eventually(() => expect(hub.refused()).toBeGreaterThanOrEqual(1));
      await pair.a.platform.emitEvent({
        kind: 'membership',
        room: memoryRoom(CLUB),
        platformEventId: '$erin-joins',
        user: ERIN,
        membership: 'join',
        timestamp: Date.now(),
      });
      const epoch = (await roomOn(pair.a, roomUri))!.epoch!;
      await eventually(async () => expect((await roomOn(pair.b, roomUri))!.epoch).toBe(epoch));
      for (const text of LATER) await post(text);
      hub.reach();
      const last = LATER[LATER.length - 1]!;
      await found(
        async () => (await roomHistory(pair.b, roomUri)).find((e) => e.content.text === last),
        'the last message back on B',
        60_000,
      );
    } finally {
      hub.restore();
    }
    const inOrder = [FIRST, ...LATER];
    const onA = (await roomHistory(pair.a, roomUri))
      .map((e) => e.content.text)
      .filter((t) => inOrder.includes(t as string));
    expect(onA).toEqual(inOrder);
    const onB = (await roomHistory(pair.b, roomUri))
      .map((e) => e.content.text)
      .filter((t) => inOrder.includes(t as string));
    expect(onB).toEqual(inOrder);
    // Nobody was told a message failed, and no submission is left refused or waiting.
    expect(pair.b.platform.notices).toEqual([]);
    const submissions = pair.b.running.app.get(RoomSubmissionRepository, { strict: false });
    expect(await submissions.listWithStatus('out', 'pending')).toEqual([]);
    const first = (await submissions.listWithStatus('out', 'confirmed')).find((s) =>
      new TextDecoder().decode(s.content).includes(FIRST),
    );
    expect(first).toBeDefined();
  }, 120_000);
});
