/**
 * Found reading the code behind the soak's seed-2 loss (RELIABILITY T48): the hub took ANY event
 * of one of its ghosts whose platform ID it had not recorded as the echo of that user's oldest
 * submission still `posting`, and completed that submission with it: logged, fanned out, and
 * never posted into its legacy room (a lost message there, I1). Such events are common: the XMPP
 * bridge reports a reaction's echo as `<stanza-id>#0` (one event per emoji), while the hub recorded
 * the post's `<stanza-id>`. A submission is `posting` and not yet on the platform whenever its
 * post failed (XMPP or Matrix down, a timeout) and the follower has not retried yet.
 *
 * Here A is the hub (memory platform), carol posts from B. Her reaction is posted and recorded;
 * then her next post meets a platform that is down (5xx to the follower, the submission stays
 * `posting`); then the reaction's echo arrives the way the XMPP bridge reports it.
 */
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { type RoomUri, type UserUri } from '../../src/common/ids';
import { encodeMimiContentWithId } from '../../src/mimi/content';
import type { MessageAction } from '../../src/ports';
import { MlsGroups, contentForAction, legacyUserUri } from '../../src/rooms';
import { DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { DATABASE_KINDS } from '../support/test-data-source';
import {
  GatewayPair,
  linkClubWithInvitees,
  submitStatusFromB,
  memoryRoom,
  roomHistory,
  submitFromB,
} from './gateway-pair';

const CLUB = '!echo-club:a.example';
const CAROL_URI = legacyUserUri(DOMAIN_B, 'memory', 'carol');
const FIRST = 'carol: a post she then reacts to';
const SECOND = 'carol: posted while the platform was down';
const THUMBS = '👍';

describe.each(DATABASE_KINDS)('the hub and the echo of a ghost it cannot place (%s)', (kind) => {
  let pair: GatewayPair;
  let roomUri: RoomUri;

  beforeAll(async () => {
    pair = await GatewayPair.start(kind);
    roomUri = await linkClubWithInvitees(pair, CLUB, [CAROL_URI]);
  }, 60_000);

  afterAll(() => pair?.stop());

  /** `action` of `user` as MIMI content encrypted by that user's client on B (new bytes each time). */
  const submission = async (
    user: UserUri,
    action: MessageAction,
    messageIdOf: () => Promise<string | undefined> = async () => undefined,
  ) => {
    const content = await contentForAction(action, { senderUri: user, roomUri, messageIdOf });
    const { bytes } = encodeMimiContentWithId(content!, user, roomUri);
    return (await pair.b.running.app.get(MlsGroups).group(roomUri))!.encrypt(user, bytes);
  };

  /** The platform events of A's room that carol's ghost posted with `text`. */
  const postedOnA = (text: string) =>
    (pair.a.platform.rooms.get(CLUB)?.timeline ?? []).filter(
      (e) => e.kind === 'message' && e.action.type === 'post' && e.action.body.text === text,
    );

  it("does not take a reaction's echo for her next post, which the platform has not shown yet", async () => {
    const first = await submission(CAROL_URI, { type: 'post', body: { kind: 'text', text: FIRST } });
    expect((await submitFromB(pair, roomUri, CAROL_URI, first)).statusCode).toBe('accepted');
    const [posted] = postedOnA(FIRST);
    const firstId = (await roomHistory(pair.a, roomUri)).find((e) => e.content.text === FIRST)!.messageId;
    const reaction = await submission(
      CAROL_URI,
      { type: 'react', target: { platformEventId: posted!.platformEventId }, key: THUMBS },
      async () => firstId,
    );
    expect((await submitFromB(pair, roomUri, CAROL_URI, reaction)).statusCode).toBe('accepted');
    const reactionEvent = pair.a.platform.rooms
      .get(CLUB)!
      .timeline.find((e) => e.kind === 'message' && e.action.type === 'react')!;

    // Her next post: the platform is down, the follower gets a 5xx, the submission stays `posting`.
    const second = await submission(CAROL_URI, { type: 'post', body: { kind: 'text', text: SECOND } });
    pair.a.platform.failWith = new PlatformError(ErrorCode.PlatformUnavailable, 'the platform is down (test)');
    try {
      expect(await submitStatusFromB(pair, roomUri, CAROL_URI, second)).toBeGreaterThanOrEqual(500);
    } finally {
      pair.a.platform.failWith = undefined;
    }
    expect(postedOnA(SECOND)).toHaveLength(0);

    // The reaction's echo as the XMPP bridge reports it: one event per emoji, `<stanza-id>#0`.
    await pair.a.platform.emitEvent({
      kind: 'message',
      room: memoryRoom(CLUB),
      platformEventId: `${reactionEvent.platformEventId}#0`,
      sender: { userUri: CAROL_URI },
      action: { type: 'react', target: { platformEventId: posted!.platformEventId }, key: THUMBS },
      timestamp: Date.now(),
    });
    // It is not her post: the post is not logged before it is on the platform.
    expect((await roomHistory(pair.a, roomUri)).filter((e) => e.content.text === SECOND)).toHaveLength(0);

    // The follower retries: now the post is on A's platform, once, and logged once.
    expect((await submitFromB(pair, roomUri, CAROL_URI, second)).statusCode).toBe('accepted');
    expect(postedOnA(SECOND)).toHaveLength(1);
    expect((await roomHistory(pair.a, roomUri)).filter((e) => e.content.text === SECOND)).toHaveLength(1);
  });
});
