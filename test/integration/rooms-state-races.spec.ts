/**
 * T41 (docs/RELIABILITY.md): state changes racing messages, run concurrently (Promise.all), many
 * times. Two in-process gateways over mutual TLS, A the hub, B a follower with bob and carol:
 * - a kick of bob on A racing a message bob posts on B;
 * - join/leave flaps: bob leaving on B while alice invites him again on A;
 * - carol demoted to visitor (no canSendMessage) on A racing a message carol posts on B.
 *
 * Authorisation is checked at the hub's sequence point: A's fan-out stream to B (its outbox rows
 * for B, in stream order) is the hub's order of commits and messages. In it, every message is of
 * the epoch the last commit before it made, and every message of bob or carol is of an epoch at
 * which the hub's own participant list let them send (read from A between the races). Afterwards
 * hub and follower agree: the same epoch, participants, members, and the same messages in the
 * same order.
 */
import { DataSource } from 'typeorm';
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import { decodeFanoutBody, inspectMlsMessage } from '../../src/mimi/wire';
import { type LegacyUserRef, type MessageAction, ParticipantRole } from '../../src/ports';
import { type RoomInfo, legacyUserUri } from '../../src/rooms';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { DATABASE_KINDS } from '../support/test-data-source';
import {
  ALICE_ON_A as ALICE,
  BOB_ON_B as BOB,
  BOB_ON_B_URI as BOB_URI,
  GatewayPair,
  type GatewayUnderTest,
  eventually,
  found,
  inviteOnA,
  linkMemoryRoom,
  memoryRoom,
  roomHistory,
  roomOn,
} from './gateway-pair';

const CLUB = '!races:a.example';
const CAROL: LegacyUserRef = { platform: Platform.Memory, userId: 'carol' };
const CAROL_URI = legacyUserUri(DOMAIN_B, 'memory', 'carol');
const ALICE_URI = legacyUserUri('a.example', 'memory', 'alice');
/**
 * How long the state change waits after the message set off, per iteration: from none (the change,
 * handled in A's process, always wins) to longer than a submission takes (the message wins), with
 * the close calls between.
 */
const HEAD_STARTS_MS = [0, 5, 15, 30, 60, 120, 250, 500];
const RACE_TIMEOUT_MS = 300_000;

const post = (text: string): MessageAction => ({ type: 'post', body: { kind: 'text', text } });

/** One entry of the hub's fan-out stream to B. */
type StreamEntry = { kind: 'commit' | 'welcome' | 'proposal'; epoch: bigint } | { kind: 'application'; epoch: bigint };

describe.each(DATABASE_KINDS)('T41: state changes racing messages on %s', (kind) => {
  let pair: GatewayPair;
  let roomUri: RoomUri;
  let mirror: string;
  let eventSeq = 0;
  /** Epochs at which the hub's participant list let each user send (read between the races). */
  const mayPost = new Map<UserUri, Set<bigint>>([
    [BOB_URI, new Set()],
    [CAROL_URI, new Set()],
  ]);

  /** Every racing message: its text and its event ID on B's platform. */
  const racingMessages: { text: string; eventId: string }[] = [];
  const racing = async (user: LegacyUserRef, text: string): Promise<void> => {
    racingMessages.push({ text, eventId: await pair.b.platform.emitLocal(mirror, user, post(text)) });
  };

  const info = async (gw: GatewayUnderTest): Promise<RoomInfo> => found(() => roomOn(gw, roomUri), 'the room');
  const nextId = (what: string): string => `$${what}-${++eventSeq}`;

  /** Wait until B is at A's epoch with A's participants, then note who may post at that epoch. */
  async function settled(): Promise<RoomInfo> {
    const a = await eventually(async () => {
      const [onA, onB] = [await info(pair.a), await info(pair.b)];
      expect(onB.epoch).toBe(onA.epoch);
      expect(sorted(onB.participants)).toEqual(sorted(onA.participants));
      return onA;
    }, 30_000);
    for (const p of a.participants) {
      const allowed = mayPost.get(p.userUri);
      if (allowed && (p.role === ParticipantRole.Member || p.role === ParticipantRole.Owner)) {
        allowed.add(BigInt(a.epoch!));
      }
    }
    return a;
  }

  async function inviteBob(): Promise<void> {
    await inviteOnA(pair, CLUB, ALICE, BOB_URI, nextId('invite-bob'));
    await eventually(async () => expect((await info(pair.b)).localMembers).toContain(BOB_URI), 30_000);
  }

  /** A message of alice's after a race: once B has it, everything the hub sequenced before it reached B. */
  async function barrier(label: string): Promise<void> {
    const text = `barrier ${label}`;
    await pair.a.platform.emitLocal(CLUB, ALICE, post(text));
    await eventually(async () =>
      expect((await roomHistory(pair.b, roomUri)).map((e) => e.content.text)).toContain(text),
    );
  }

  /** A's fan-out stream to B for the room, in the hub's order (every row, delivered or not). */
  async function hubStreamToB(): Promise<StreamEntry[]> {
    const dataSource = pair.a.running.app.get(DataSource, { strict: false });
    const [p1, p2] = dataSource.options.type === 'postgres' ? ['$1', '$2'] : ['?', '?'];
    const rows = (await dataSource.query(
      `SELECT body FROM outbox_entry WHERE destination = ${p1} AND room_uri = ${p2} AND endpoint = 'notify'
       ORDER BY stream_seq`,
      [DOMAIN_B, roomUri],
    )) as { body: Buffer }[];
    return rows.flatMap((r) =>
      decodeFanoutBody(new Uint8Array(r.body)).map((m) => ({
        kind: m.messageKind,
        epoch: inspectMlsMessage(m.message).epoch ?? -1n,
      })),
    );
  }

  beforeAll(async () => {
    pair = await GatewayPair.start(kind);
    pair.a.platform.createRoom(CLUB, 'Races').members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    roomUri = await linkMemoryRoom(pair.a, CLUB);
    await inviteBob();
    await inviteOnA(pair, CLUB, ALICE, CAROL_URI, nextId('invite-carol'));
    await eventually(async () => expect((await info(pair.b)).localMembers).toContain(CAROL_URI), 30_000);
    mirror = `${MIRROR_PREFIX}${roomUri}`;
    await settled();
  }, 60_000);

  afterAll(() => pair?.stop());

  it(
    'orders every kick, leave/join flap and role change racing a message at the hub: nothing from a removed or demoted user after the change, hub and follower agree',
    async () => {
      for (const [i, headStart] of HEAD_STARTS_MS.entries()) {
        // A kick of bob on A racing bob's message on B.
        const kickedAt = await settled();
        expect(kickedAt.participants.map((p) => p.userUri)).toContain(BOB_URI);
        await Promise.all([
          after(headStart, () =>
            pair.a.platform.emitEvent({
              kind: 'membership',
              room: memoryRoom(CLUB),
              platformEventId: nextId('kick-bob'),
              user: { userUri: BOB_URI },
              membership: 'kick',
              by: ALICE,
              timestamp: Date.now(),
            }),
          ),
          racing(BOB, `bob races his kick ${i}`),
        ]);
        const afterKick = await settled();
        expect(afterKick.participants.map((p) => p.userUri)).not.toContain(BOB_URI);
        await barrier(`kick ${i}`);

        // Join/leave flaps: bob invited again, then leaving on B while alice invites him once more.
        await inviteBob();
        await settled();
        await Promise.all([
          after(headStart, () =>
            pair.b.platform.emitEvent({
              kind: 'membership',
              room: memoryRoom(mirror),
              platformEventId: nextId('bob-leaves'),
              user: BOB,
              membership: 'leave',
              timestamp: Date.now(),
            }),
          ),
          after(headStart / 2, () => inviteOnA(pair, CLUB, ALICE, BOB_URI, nextId('invite-bob-again'))),
          racing(BOB, `bob posts while flapping ${i}`),
        ]);
        await settled();
        await barrier(`flap ${i}`);
        if (!(await info(pair.a)).participants.some((p) => p.userUri === BOB_URI)) await inviteBob();
        await settled();

        // Carol demoted to visitor on A racing carol's message on B; then a member again.
        await Promise.all([
          after(headStart, () =>
            pair.a.platform.emitEvent({
              kind: 'role',
              room: memoryRoom(CLUB),
              platformEventId: nextId('demote-carol'),
              user: { userUri: CAROL_URI },
              role: ParticipantRole.Visitor,
              by: ALICE,
              timestamp: Date.now(),
            }),
          ),
          racing(CAROL, `carol races her demotion ${i}`),
        ]);
        const demoted = await settled();
        expect(demoted.participants).toContainEqual({ userUri: CAROL_URI, role: ParticipantRole.Visitor });
        await barrier(`demote ${i}`);
        await pair.a.platform.emitEvent({
          kind: 'role',
          room: memoryRoom(CLUB),
          platformEventId: nextId('promote-carol'),
          user: { userUri: CAROL_URI },
          role: ParticipantRole.Member,
          by: ALICE,
          timestamp: Date.now(),
        });
        await settled();
      }
      await barrier('end');

      // The hub's sequence: each message of the epoch the last commit made; none of bob's or
      // carol's at an epoch at which the hub did not let them send.
      const stream = await hubStreamToB();
      const hubLog = await roomHistory(pair.a, roomUri);
      const messages = stream.filter((e) => e.kind === 'application');
      let epoch = -1n;
      for (const e of stream) {
        if (e.kind === 'commit') epoch = e.epoch + 1n;
        else if (e.kind === 'application') expect(e.epoch).toBe(epoch);
      }
      // Message i of the stream is message i of the hub's log (every message goes to B, in log order).
      expect(messages).toHaveLength(hubLog.length);
      const outOfTurn = hubLog.flatMap((event, i) => {
        const allowed = mayPost.get(event.senderUri);
        const at = messages[i]!.epoch;
        return allowed === undefined || allowed.has(at)
          ? []
          : [{ sender: event.senderUri, text: event.content.text, at }];
      });
      expect(outOfTurn).toEqual([]);

      // No divergence: the same state and the same messages in the same order on both.
      const [onA, onB] = [await info(pair.a), await info(pair.b)];
      expect({ epoch: onB.epoch, participants: sorted(onB.participants), members: [...onB.members].sort() }).toEqual({
        epoch: onA.epoch,
        participants: sorted(onA.participants),
        members: [...onA.members].sort(),
      });
      const onBLog = await roomHistory(pair.b, roomUri);
      expect(onBLog.map((e) => [e.messageId, e.senderUri])).toEqual(hubLog.map((e) => [e.messageId, e.senderUri]));
      // The races went both ways: some racing messages were sequenced before the change, some not.
      const raced = hubLog.filter((e) => e.senderUri !== ALICE_URI).map((e) => String(e.content.text));
      process.stdout.write(`T41 on ${kind}: sequenced ${raced.length} racing messages: ${JSON.stringify(raced)}\n`);
      expect(raced.length).toBeGreaterThan(0);
      expect(raced.length).toBeLessThan(racingMessages.length);
      // Nothing lost silently: a racing message the hub did not take was answered on B's platform
      // with a failure notice about it.
      await eventually(() => {
        const noticed = new Set(pair.b.platform.notices.map((n) => n.about));
        const unannounced = racingMessages.filter((m) => !raced.includes(m.text) && !noticed.has(m.eventId));
        expect(unannounced.map((m) => m.text)).toEqual([]);
      });
    },
    RACE_TIMEOUT_MS,
  );
});

/** `f()` after `ms` (0: at once, in this turn). */
function after<T>(ms: number, f: () => Promise<T>): Promise<T> {
  return ms === 0 ? f() : new Promise((resolve) => setTimeout(resolve, ms)).then(f);
}

function sorted(participants: RoomInfo['participants']): { userUri: string; role: string }[] {
  return [...participants]
    .map((p) => ({ userUri: p.userUri, role: p.role }))
    .sort((x, y) => x.userUri.localeCompare(y.userUri));
}
