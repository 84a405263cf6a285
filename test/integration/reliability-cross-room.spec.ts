/**
 * T43 (docs/RELIABILITY.md): a reference into another room. Gateway A hubs two rooms, B follows
 * both. Alice has a message in room "other"; in room "club" she then replies to it, edits it,
 * reacts to it and deletes it, naming its real platform event ID (as a client or a hostile
 * homeserver can). None of these may resolve to the message of the other room: the reply goes
 * out as a plain message, the rest changes nothing, and nothing of the other room's message
 * reaches the club room on either gateway.
 */
import { Platform, type RoomUri } from '../../src/common/ids';
import { type LegacyUserRef, type MessageAction, ParticipantRole } from '../../src/ports';
import { type RoomEventInfo, legacyUserUri } from '../../src/rooms';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { DOMAIN_B } from '../kits/mimi/transport-fixtures';
import {
  GatewayPair,
  type GatewayUnderTest,
  eventually,
  found,
  inviteOnA,
  linkMemoryRoom,
  roomHistory,
  roomOn,
} from './gateway-pair';

const CLUB = '!club:a.example';
const OTHER = '!other:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const BOB: LegacyUserRef = { platform: Platform.Memory, userId: 'bob' };
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');
const SECRET = 'said in the other room only';
const REPLY = 'a reply in the club to a message of the other room';
const EDITED = 'edited from the club';
const BOB_REPLY = 'bob replies in the club to the message of the other room';
const AFTER = 'the last word in the club';

describe('T43: a reference to a message of another room', () => {
  let pair: GatewayPair;
  let club: RoomUri;
  let other: RoomUri;

  const texts = (events: readonly RoomEventInfo[]): unknown[] => events.map((e) => e.content.text);
  const post = (text: string, inReplyTo?: string): MessageAction => ({
    type: 'post',
    body: { kind: 'text', text },
    ...(inReplyTo === undefined ? {} : { inReplyTo: { platformEventId: inReplyTo } }),
  });

  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite');
    for (const roomId of [CLUB, OTHER]) {
      pair.a.platform
        .createRoom(roomId, roomId)
        .members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    }
    club = await linkMemoryRoom(pair.a, CLUB);
    other = await linkMemoryRoom(pair.a, OTHER);
    await inviteOnA(pair, CLUB, ALICE, BOB_URI, '$invite-bob-club');
    await inviteOnA(pair, OTHER, ALICE, BOB_URI, '$invite-bob-other');
    await found(() => roomOn(pair.b, club), 'the club on B');
    await found(() => roomOn(pair.b, other), 'the other room on B');
  }, 60_000);

  afterAll(() => pair?.stop());

  it('resolves no reply, edit, reaction or deletion across rooms, and copies nothing', async () => {
    const secretEventId = await pair.a.platform.emitLocal(OTHER, ALICE, post(SECRET));
    const secret = await found(
      async () => (await roomHistory(pair.a, other)).find((e) => e.content.text === SECRET),
      'the message of the other room',
    );
    await eventually(async () => expect(texts(await roomHistory(pair.b, other))).toContain(SECRET));

    // In the club, every kind of reference to the other room's message, by its real event ID.
    const target = { platformEventId: secretEventId };
    await pair.a.platform.emitLocal(CLUB, ALICE, post(REPLY, secretEventId));
    await pair.a.platform.emitLocal(CLUB, ALICE, { type: 'edit', target, body: { kind: 'text', text: EDITED } });
    await pair.a.platform.emitLocal(CLUB, ALICE, { type: 'react', target, key: '👍' });
    await pair.a.platform.emitLocal(CLUB, ALICE, { type: 'delete', target });
    // Bob does the same on B (a follower), naming the event of the other room's mirror there.
    const secretOnB = await found(
      async () => (await roomHistory(pair.b, other)).find((e) => e.messageId === secret.messageId)?.platformEventId,
      "the other room's message on B's platform",
    );
    await pair.b.platform.emitLocal(`${MIRROR_PREFIX}${club}`, BOB, post(BOB_REPLY, secretOnB ?? undefined));
    await eventually(async () => expect(texts(await roomHistory(pair.a, club))).toContain(BOB_REPLY));
    // A last message, so that everything before it has been handled once it arrives on B.
    await pair.a.platform.emitLocal(CLUB, ALICE, post(AFTER));

    const onB = async (gw: GatewayUnderTest): Promise<RoomEventInfo[]> => {
      const events = await roomHistory(gw, club);
      expect(texts(events)).toContain(AFTER);
      return events;
    };
    for (const gw of [pair.a, pair.b]) {
      const clubEvents = await eventually(() => onB(gw));
      // The reply is a plain message: its reference is not resolved to the other room's message.
      for (const text of [REPLY, BOB_REPLY]) {
        expect(clubEvents.find((e) => e.content.text === text)?.content).toMatchObject({
          kind: 'text',
          inReplyTo: null,
        });
      }
      // Nothing in the club names the other room's message or carries its text.
      for (const e of clubEvents) {
        expect([e.content.inReplyTo, e.content.replaces]).not.toContain(secret.messageId);
        expect(JSON.stringify(e.content)).not.toContain(SECRET);
      }
      expect(texts(clubEvents)).toEqual([REPLY, BOB_REPLY, AFTER]);
      // The other room's message is as it was: not edited, reacted to or deleted.
      expect((await roomHistory(gw, other)).map((e) => [e.messageId, e.kind, e.content.text])).toEqual([
        [secret.messageId, secret.kind, SECRET],
      ]);
    }
    // B's legacy rooms: the club's mirror shows alice's two plain posts and nothing else from her.
    const mirror = pair.b.platform.rooms.get(`${MIRROR_PREFIX}${club}`)!;
    const messages = mirror.timeline.filter((e) => e.kind === 'message' && 'userUri' in e.sender);
    expect(messages.map((e) => (e.kind === 'message' ? e.action.type : undefined))).toEqual(['post', 'post']);
    expect(
      messages.map((e) => (e.kind === 'message' && 'inReplyTo' in e.action ? e.action.inReplyTo : undefined)),
    ).toEqual([undefined, undefined]);
    const otherMirror = pair.b.platform.rooms.get(`${MIRROR_PREFIX}${other}`)!;
    expect(
      otherMirror.timeline.filter((e) => e.kind === 'message').map((e) => e.kind === 'message' && e.action.type),
    ).toEqual(['post']);
  });
});
