/**
 * Found by the T40 e2e (test/e2e/one-room-three-sources.e2e-spec.ts, seed 111): the hub posted a
 * follower's submission into its legacy room and was killed before logging it; after the restart
 * a submission of another follower that arrived first was logged (hub sequence) before it, so the
 * legacy room showed the two in the other order than the hub's log and the followers (I3).
 *
 * Here the "kill" is a failure between the platform post and the log (HubSubmissions.
 * completeSubmission throws once, so the follower gets no `accepted`); the echo of the post comes
 * back to A only later, as a platform redelivers it after a restart. The two submissions are sent
 * as two followers would (each follower submits its room's messages one at a time, so one follower
 * alone cannot overtake itself): by B's peer client, each encrypted by its user's client on B.
 */
import { type RoomUri, type UserUri } from '../../src/common/ids';
import { encodeMimiContentWithId } from '../../src/mimi/content';
import { MlsGroups, type RoomEventInfo, contentForAction, legacyUserUri } from '../../src/rooms';
import { HubSubmissions } from '../../src/rooms/hub/hub-submissions';
import { DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { DATABASE_KINDS } from '../support/test-data-source';
import {
  BOB_ON_B_URI,
  GatewayPair,
  linkClubWithInvitees,
  submitStatusFromB,
  roomHistory,
  submitFromB,
} from './gateway-pair';

const CLUB = '!club:a.example';
const BOB_URI = BOB_ON_B_URI;
const CAROL_URI = legacyUserUri(DOMAIN_B, 'memory', 'carol');
const FIRST = 'bob: posted on A just before A died';
const SECOND = 'carol: submitted first after the restart';
const AGAIN = 'bob: posted before A died, then encrypted again on B';
const AFTER = 'carol: submitted after that';
/** How long the echo of bob's post takes to come back to A (a redelivery after the restart). */
const LATE_ECHO_MS = 2000;

describe.each(DATABASE_KINDS)('the hub killed between posting a submission and logging it (%s)', (kind) => {
  let pair: GatewayPair;
  let roomUri: RoomUri;

  /** Of `texts`, those posted in A's legacy room, in its order. */
  const postedOnA = (texts: readonly string[]): unknown[] =>
    (pair.a.platform.rooms.get(CLUB)?.timeline ?? [])
      .flatMap((e) => (e.kind === 'message' && e.action.type === 'post' ? [e.action.body.text] : []))
      .filter((t) => texts.includes(t ?? ''));
  /** Of `texts`, the messages in A's log (the hub's sequence), in its order. */
  const loggedOnA = async (texts: readonly string[]): Promise<RoomEventInfo[]> =>
    (await roomHistory(pair.a, roomUri)).filter((e) => texts.includes(e.content.text as string));

  beforeAll(async () => {
    pair = await GatewayPair.start(kind);
    roomUri = await linkClubWithInvitees(pair, CLUB, [BOB_URI, CAROL_URI]);
  }, 60_000);

  afterAll(() => pair?.stop());

  /** The MIMI content of a post of `user` (the same bytes each time). */
  const contentOf = async (user: UserUri, text: string): Promise<Uint8Array> => {
    const content = await contentForAction(
      { type: 'post', body: { kind: 'text', text } },
      { senderUri: user, roomUri, messageIdOf: async () => undefined },
    );
    return encodeMimiContentWithId(content!, user, roomUri).bytes;
  };
  /** `content` encrypted by `user`'s client on B: new bytes each time. */
  const encrypted = async (user: UserUri, content: Uint8Array): Promise<Uint8Array> =>
    (await pair.b.running.app.get(MlsGroups).group(roomUri))!.encrypt(user, content);
  /**
   * A's next submission is posted on its platform, then A "dies" before logging it: the follower
   * gets a 5xx, and the echo of the post comes back only LATE_ECHO_MS later.
   */
  const dyingAfterThePost = async (user: UserUri, appMessage: Uint8Array): Promise<void> => {
    const hub = pair.a.running.app.get(HubSubmissions, { strict: false });
    const crash = jest.spyOn(hub, 'completeSubmission').mockImplementationOnce(async () => {
      throw new Error('killed between the post and the log (test)');
    });
    pair.a.platform.echoDelayMs = LATE_ECHO_MS;
    try {
      expect(await submitStatusFromB(pair, roomUri, user, appMessage)).toBeGreaterThanOrEqual(500);
      expect(crash).toHaveBeenCalledTimes(1);
    } finally {
      crash.mockRestore();
      pair.a.platform.echoDelayMs = 0;
    }
  };
  const lateEcho = () => new Promise((resolve) => setTimeout(resolve, LATE_ECHO_MS + 500));
  /** PostOptions.retry of each post call of `text` on A: a post that may have been made before is a retry. */
  const retriesOf = (text: string): unknown[] =>
    pair.a.platform.postCalls
      .filter((c) => c.action.type === 'post' && c.action.body.text === text)
      .map((c) => c.opts.retry ?? false);

  it("logs the submission it had posted before a later one, in the legacy room's order", async () => {
    const texts = [FIRST, SECOND];
    const first = await encrypted(BOB_URI, await contentOf(BOB_URI, FIRST));
    const second = await encrypted(CAROL_URI, await contentOf(CAROL_URI, SECOND));
    await dyingAfterThePost(BOB_URI, first);
    expect(postedOnA(texts)).toEqual([FIRST]);
    // "After the restart": carol's submission arrives first, then bob's follower retries his.
    expect((await submitFromB(pair, roomUri, CAROL_URI, second)).statusCode).toBe('accepted');
    expect((await submitFromB(pair, roomUri, BOB_URI, first)).statusCode).toBe('accepted');
    // Each posted once, bob's first; the hub logs them in that order, with no gap.
    expect(postedOnA(texts)).toEqual([FIRST, SECOND]);
    // Bob's post again, before carol's, is a retry (the platform may look for it): carol's is not.
    expect(retriesOf(FIRST)).toEqual([false, true]);
    expect(retriesOf(SECOND)).toEqual([false]);
    const onA = await loggedOnA(texts);
    expect(onA.map((e) => e.content.text)).toEqual([FIRST, SECOND]);
    expect(onA[1]!.seq).toBe(onA[0]!.seq + 1);
    // The late echo of bob's post is recognised as that message, not logged again.
    await lateEcho();
    expect(await loggedOnA(texts)).toEqual(onA);
  });

  it('logs a message once when its follower encrypted it again after the kill, and keeps its place', async () => {
    const texts = [AGAIN, AFTER];
    const content = await contentOf(BOB_URI, AGAIN);
    await dyingAfterThePost(BOB_URI, await encrypted(BOB_URI, content));
    // Bob's follower encrypts it again (as after epochTooOld): the same message, new bytes.
    expect((await submitFromB(pair, roomUri, BOB_URI, await encrypted(BOB_URI, content))).statusCode).toBe('accepted');
    const after = await encrypted(CAROL_URI, await contentOf(CAROL_URI, AFTER));
    expect((await submitFromB(pair, roomUri, CAROL_URI, after)).statusCode).toBe('accepted');
    await lateEcho();
    expect(postedOnA(texts)).toEqual([AGAIN, AFTER]);
    // The new bytes of a message that may have been posted are a retry.
    expect(retriesOf(AGAIN)).toEqual([false, true]);
    const onA = await loggedOnA(texts);
    expect(onA.map((e) => e.content.text)).toEqual([AGAIN, AFTER]);
    expect(onA[1]!.seq).toBe(onA[0]!.seq + 1);
  });
});
