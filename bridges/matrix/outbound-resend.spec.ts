import { Logger } from '@nestjs/common';
import { ErrorCode } from '../../src/common/errors';
import { Platform, type UserUri } from '../../src/common/ids';
import type { Attachment, LegacyRoomRef, MessageAction, PostOptions, RemoteUser } from '../../src/ports';
import { type MatrixHarness, startMatrixHarness } from '../../test/kits/matrix/matrix-harness';
import { MatrixBridge } from './matrix.bridge';
import { txnIdFor } from './matrix-errors';
import { mediaDownloadUrl } from './matrix-ids';
import { TXN_MARKER } from './sent-events';

/**
 * A ghost's send retried after its outcome was lost (issue #14; RELIABILITY T48's seed-1
 * duplicate), against the fake homeserver (test/kits/matrix/fake-homeserver.ts): it handles the
 * send and cuts the connection instead of answering (`loseNextAnswer`), then forgets its
 * transaction IDs as Synapse does when it restarts (`forgetTransactions`). The retry must find
 * the event it sent (outbound-posts.ts, sent-events.ts) instead of posting a second copy.
 */

const CAROL: RemoteUser = { userUri: 'mimi://follower.example/u/carol' as UserUri, displayName: 'Carol' };
const TIMEOUT_MS = 5_000;
const text = (t: string): MessageAction => ({ type: 'post', body: { kind: 'text', text: t } });

describe('MatrixBridge: a send retried after a lost answer and a homeserver restart (fake homeserver)', () => {
  let h: MatrixHarness;
  let roomId: string;
  let room: LegacyRoomRef;
  let carol: string;
  const opts = (idempotencyKey: string, extra: Partial<PostOptions> = {}): PostOptions => ({
    idempotencyKey,
    timeoutMs: TIMEOUT_MS,
    ...extra,
  });
  /** The ghost's events in the room (not its membership). */
  const ghostEvents = () =>
    h.hs.timeline(roomId).filter((e) => e.sender === carol && (e.type === 'm.room.message' || e.type === 'm.reaction'));
  const searches = () => h.hs.calls(/\/messages$/, 'GET');

  /** Post with the answer to the send lost (the homeserver stored it), then "restart" the homeserver. */
  async function lostThenForgotten(action: MessageAction, key: string, sendPath = /\/send\//): Promise<void> {
    h.hs.loseNextAnswer('PUT', sendPath);
    await expect(h.bridge.post(room, CAROL, action, opts(key))).rejects.toMatchObject({
      code: ErrorCode.PlatformUnavailable,
      retryable: true,
    });
    h.hs.forgetTransactions();
  }

  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(async () => {
    h = await startMatrixHarness();
    roomId = h.hs.createRoom(h.alice, { joinRule: 'public' });
    room = { platform: Platform.Matrix, roomId };
    carol = h.bridge.ids.ghostUserId(CAROL.userUri)!;
  });
  afterEach(async () => {
    await h.stop();
  });

  it('the same bridge retries: the post the lost answer was about is found and returned, not posted again', async () => {
    await lostThenForgotten(text('lost answer'), 'lost-1');
    expect(ghostEvents()).toHaveLength(1);

    const result = await h.bridge.post(room, CAROL, text('lost answer'), opts('lost-1'));
    expect(ghostEvents().map((e) => e.event_id)).toEqual([result.platformEventId]);
    expect(result.echoKeys).toEqual([txnIdFor('post', 'lost-1')]);
    expect(searches()).toHaveLength(1);
    expect(searches()[0]!.userId).toBe(carol);
    // The answer is remembered now: asking again needs the homeserver no more.
    const before = h.hs.requests.length;
    expect(await h.bridge.post(room, CAROL, text('lost answer'), opts('lost-1'))).toEqual(result);
    expect(h.hs.requests.length).toBe(before);
  });

  it('a restarted bridge told it is a retry (PostOptions.retry) finds the earlier post too', async () => {
    await lostThenForgotten(text('lost, then the gateway restarted'), 'lost-2');
    const restarted = new MatrixBridge(
      (h.bridge as unknown as { opts: ConstructorParameters<typeof MatrixBridge>[0] }).opts,
    );
    await restarted.start(async () => undefined);
    try {
      const result = await restarted.post(room, CAROL, text('lost, then the gateway restarted'), {
        ...opts('lost-2'),
        retry: true,
      });
      expect(ghostEvents().map((e) => e.event_id)).toEqual([result.platformEventId]);
    } finally {
      await restarted.stop();
    }
  });

  it('a first attempt makes no search; a retry that finds nothing sends once', async () => {
    await h.bridge.post(room, CAROL, text('first'), opts('first-1'));
    expect(searches()).toEqual([]);
    const retried = await h.bridge.post(room, CAROL, text('never sent'), opts('first-2', { retry: true }));
    expect(searches()).toHaveLength(1);
    expect(ghostEvents().map((e) => e.content['body'])).toEqual(['first', 'never sent']);
    expect(retried.platformEventId).toBe(ghostEvents()[1]!.event_id);
  });

  it('an edit and a reaction whose answers were lost are found the same way', async () => {
    const original = await h.bridge.post(room, CAROL, text('helo'), opts('orig'));
    const edit: MessageAction = { type: 'edit', target: original, body: { kind: 'text', text: 'hello' } };
    await lostThenForgotten(edit, 'edit-1');
    const edited = await h.bridge.post(room, CAROL, edit, opts('edit-1'));
    const react: MessageAction = { type: 'react', target: original, key: '👍' };
    await lostThenForgotten(react, 'react-1');
    const reacted = await h.bridge.post(room, CAROL, react, opts('react-1'));
    expect(ghostEvents().map((e) => e.event_id)).toEqual([
      original.platformEventId,
      edited.platformEventId,
      reacted.platformEventId,
    ]);
    expect(ghostEvents()[1]!.content).toMatchObject({
      'm.new_content': { body: 'hello' },
      'm.relates_to': { rel_type: 'm.replace', event_id: original.platformEventId },
      [TXN_MARKER]: txnIdFor('post', 'edit-1'),
    });
    expect(ghostEvents()[1]!.content['m.new_content']).not.toHaveProperty(TXN_MARKER);
  });

  it('a post of several files whose last answer was lost: the retry sends no file twice', async () => {
    const media = (id: string): Attachment => ({
      url: mediaDownloadUrl(h.hs.url, `mxc://hs.test/${id}`)!,
      contentType: 'image/png',
      filename: `${id}.png`,
    });
    const action: MessageAction = {
      type: 'post',
      body: { kind: 'text', text: 'two', attachments: [media('a'), media('b')] },
    };
    await lostThenForgotten(action, 'files-1', /\.1$/);
    const result = await h.bridge.post(room, CAROL, action, opts('files-1'));
    const txnId = txnIdFor('post', 'files-1');
    expect(ghostEvents().map((e) => [e.content['url'], e.content[TXN_MARKER]])).toEqual([
      ['mxc://hs.test/a', txnId],
      ['mxc://hs.test/b', `${txnId}.1`],
    ]);
    expect(result.platformEventId).toBe(ghostEvents()[0]!.event_id);
  });

  it('when the search itself fails, nothing is sent and the error is retryable', async () => {
    await lostThenForgotten(text('look first'), 'look-1');
    h.hs.failNext('GET', /\/messages$/, 502, { errcode: 'M_UNKNOWN', error: 'bad gateway' });
    const sends = h.hs.calls(/\/send\//, 'PUT').length;
    await expect(h.bridge.post(room, CAROL, text('look first'), opts('look-1'))).rejects.toMatchObject({
      retryable: true,
    });
    expect(h.hs.calls(/\/send\//, 'PUT')).toHaveLength(sends);
    const result = await h.bridge.post(room, CAROL, text('look first'), opts('look-1'));
    expect(ghostEvents().map((e) => e.event_id)).toEqual([result.platformEventId]);
  });
});
