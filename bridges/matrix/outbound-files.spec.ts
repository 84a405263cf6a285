import { Logger } from '@nestjs/common';
import { Platform, type UserUri } from '../../src/common/ids';
import type { Attachment, LegacyRoomRef, MessageAction, RemoteUser } from '../../src/ports';
import { type MatrixHarness, startMatrixHarness } from '../../test/kits/matrix/matrix-harness';
import { txnIdFor } from './matrix-errors';
import { MatrixIds, mediaDownloadUrl } from './matrix-ids';
import type { MapperContext } from './matrix-event.core';
import { FILE_OF_KEY, fileEventsOf, isFileOfEcho, splitFiles } from './outbound-files';

/**
 * A post with several files on Matrix (outbound-files.ts): one event per file when some are media
 * of this homeserver, never a file left out.
 */

const HS = 'http://127.0.0.1:8008';
const media = (hs: string, id: string, filename: string, contentType = 'image/png'): Attachment => ({
  url: mediaDownloadUrl(hs, `mxc://hs.test/${id}`)!,
  contentType,
  filename,
  size: 3,
});
const LINK: Attachment = { url: 'https://files.example/r.pdf', contentType: 'application/pdf', filename: 'r.pdf' };
type Post = Extract<MessageAction, { type: 'post' }>;

describe(splitFiles.name, () => {
  const ctx = { homeserverUrl: HS } as MapperContext;
  const post = (attachments: Attachment[], text = 'two files'): Post => ({
    type: 'post',
    body: { kind: 'text', text, attachments, mentions: ['mimi://a.example/u/bob' as UserUri] },
    inReplyTo: { platformEventId: '$q' },
  });

  it('keeps a post of one file, or of files that are only links, as one event', () => {
    const one = post([media(HS, 'a', 'a.png')]);
    expect(splitFiles(one, ctx)).toEqual([one]);
    const links = post([LINK, { ...LINK, url: 'https://files.example/s.pdf' }]);
    expect(splitFiles(links, ctx)).toEqual([links]);
  });

  it('splits a post of several files with media of this homeserver into one post per file, in order', () => {
    const a = media(HS, 'a', 'a.png');
    const b = media(HS, 'b', 'b.pdf', 'application/pdf');
    expect(splitFiles(post([a, LINK, b]), ctx)).toEqual([
      { ...post([a]) },
      { type: 'post', body: { kind: 'text', text: '', attachments: [LINK] } },
      { type: 'post', body: { kind: 'text', text: '', attachments: [b] } },
    ]);
  });

  it('takes only a ghost’s (or the bot’s) event with the key for an echo of a further file event', () => {
    const ids = new MatrixIds('_mimi_', 'hs.test', 'mimibot');
    const content = { msgtype: 'm.image', body: 'b.png', [FILE_OF_KEY]: '$first' };
    expect(isFileOfEcho({ type: 'm.room.message', sender: '@_mimi_u_x:hs.test', content }, ids)).toBe(true);
    expect(isFileOfEcho({ type: 'm.room.message', sender: '@alice:hs.test', content }, ids)).toBe(false);
    expect(isFileOfEcho({ type: 'm.room.message', sender: '@_mimi_u_x:hs.test', content: { body: 'b' } }, ids)).toBe(
      false,
    );
  });
});

describe(fileEventsOf.name, () => {
  const ids = new MatrixIds('_mimi_', 'hs.test', 'mimibot');
  const ev = (event_id: string, sender: string, fileOf?: string) => ({
    event_id,
    sender,
    type: 'm.room.message',
    content: { body: 'f', ...(fileOf !== undefined ? { [FILE_OF_KEY]: fileOf } : {}) },
  });

  it('finds the file events our ghosts sent for that post, not a native user’s nor another post’s', async () => {
    const paths: string[] = [];
    const client = {
      doRequest: async (_m: string, path: string) => {
        paths.push(path);
        return {
          chunk: [
            ev('$1', '@_mimi_u_x:hs.test', '$first'),
            ev('$2', '@alice:hs.test', '$first'),
            ev('$3', '@_mimi_u_x:hs.test', '$other'),
            ev('$4', '@_mimi_u_x:hs.test'),
            ev('$5', '@_mimi_u_y:hs.test', '$first'),
          ],
        };
      },
    };
    expect(await fileEventsOf(client, '!r:hs.test', '$first', ids)).toEqual(['$1', '$5']);
    expect(paths).toEqual([
      `/_matrix/client/v1/rooms/${encodeURIComponent('!r:hs.test')}/relations/%24first/m.reference`,
    ]);
  });

  it('finds none when the homeserver does not know the event or the endpoint, and passes other errors on', async () => {
    const failing = (statusCode: number) => ({
      doRequest: async () => Promise.reject(Object.assign(new Error('x'), { statusCode, body: { errcode: 'M_X' } })),
    });
    expect(await fileEventsOf(failing(404), '!r', '$first', ids)).toEqual([]);
    expect(await fileEventsOf(failing(400), '!r', '$first', ids)).toEqual([]);
    await expect(fileEventsOf(failing(502), '!r', '$first', ids)).rejects.toThrow();
  });
});

describe('MatrixBridge: a post of several files (fake homeserver)', () => {
  const CAROL: RemoteUser = { userUri: 'mimi://follower.example/u/carol' as UserUri, displayName: 'Carol' };
  let h: MatrixHarness;
  let roomId: string;
  let room: LegacyRoomRef;
  let hs: string;

  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(async () => {
    h = await startMatrixHarness();
    roomId = h.hs.createRoom(h.alice, { joinRule: 'public', name: 'Lobby' });
    room = { platform: Platform.Matrix, roomId };
    hs = h.hs.url;
  });
  afterEach(async () => {
    await h.stop();
  });

  it('sends one media event per file, the first with the caption and the reply, and reports only the post', async () => {
    const question = h.hs.emit(roomId, h.alice, 'm.room.message', { msgtype: 'm.text', body: 'pics?' });
    const files = [media(hs, 'a', 'a.png'), media(hs, 'b', 'b.pdf', 'application/pdf'), LINK];
    const action: MessageAction = {
      type: 'post',
      body: { kind: 'text', text: 'here they are', attachments: files },
      inReplyTo: { platformEventId: question.event_id },
    };
    const opts = { idempotencyKey: 'files-1', timeoutMs: 5_000 };
    const result = await h.bridge.post(room, CAROL, action, opts);

    const txnId = txnIdFor('post', 'files-1');
    expect(h.hs.calls(/\/send\//, 'PUT').map((c) => c.path.split('/').at(-1))).toEqual([
      txnId,
      `${txnId}.1`,
      `${txnId}.2`,
    ]);
    const sent = h.hs.timeline(roomId).filter((e) => e.type === 'm.room.message' && e.sender !== h.alice);
    expect(sent.map((e) => e.content)).toEqual([
      expect.objectContaining({
        msgtype: 'm.image',
        body: 'here they are',
        filename: 'a.png',
        url: 'mxc://hs.test/a',
        'm.relates_to': { 'm.in_reply_to': { event_id: question.event_id } },
      }),
      expect.objectContaining({
        'm.relates_to': { rel_type: 'm.reference', event_id: sent[0]!.event_id },
        msgtype: 'm.file',
        body: 'b.pdf',
        url: 'mxc://hs.test/b',
        [FILE_OF_KEY]: sent[0]!.event_id,
      }),
      expect.objectContaining({
        msgtype: 'm.text',
        formatted_body: expect.stringContaining(`href="${LINK.url}"`),
        [FILE_OF_KEY]: sent[0]!.event_id,
      }),
    ]);
    expect(sent[0]!.content).not.toHaveProperty(FILE_OF_KEY);
    expect(result.platformEventId).toBe(sent[0]!.event_id);

    // The echoes: the post's first event comes back; the further file events are not new messages.
    await h.sink.waitFor('message', (e) => e.platformEventId === result.platformEventId, 5_000);
    await h.hs.settled();
    const reported = h.sink.events.filter((e) => e.kind === 'message').map((e) => e.platformEventId);
    expect(reported).toContain(result.platformEventId);
    expect(reported).not.toContain(sent[1]!.event_id);
    expect(reported).not.toContain(sent[2]!.event_id);
  });

  it('a delete of the post redacts every one of its events, and nothing else', async () => {
    const other = await h.bridge.post(
      room,
      CAROL,
      { type: 'post', body: { kind: 'text', text: 'keep me' } },
      { idempotencyKey: 'other', timeoutMs: 5_000 },
    );
    const files = [media(hs, 'a', 'a.png'), media(hs, 'b', 'b.png'), LINK];
    const action: MessageAction = { type: 'post', body: { kind: 'text', text: 'three', attachments: files } };
    const result = await h.bridge.post(room, CAROL, action, { idempotencyKey: 'files-3', timeoutMs: 5_000 });
    const events = h.hs
      .timeline(roomId)
      .filter((e) => e.event_id === result.platformEventId || e.content[FILE_OF_KEY] === result.platformEventId)
      .map((e) => e.event_id);
    expect(events).toHaveLength(3);
    await h.bridge.post(
      room,
      CAROL,
      { type: 'delete', target: { platformEventId: result.platformEventId } },
      { idempotencyKey: 'delete-3', timeoutMs: 5_000 },
    );
    const redacted = h.hs
      .timeline(roomId)
      .filter((e) => e.type === 'm.room.redaction')
      .map((e) => e.redacts);
    expect(redacted).toEqual(events);
    expect(redacted).not.toContain(other.platformEventId);
  });

  it('a retry after a failure between the events sends the missing ones, never a file twice', async () => {
    const files = [media(hs, 'a', 'a.png'), media(hs, 'b', 'b.png')];
    const action: MessageAction = { type: 'post', body: { kind: 'text', text: '', attachments: files } };
    h.hs.failNext('PUT', /\.1$/, 500, { errcode: 'M_UNKNOWN', error: 'boom' });
    await expect(h.bridge.post(room, CAROL, action, { idempotencyKey: 'files-2', timeoutMs: 5_000 })).rejects.toThrow();
    const result = await h.bridge.post(room, CAROL, action, { idempotencyKey: 'files-2', timeoutMs: 5_000 });
    const sent = h.hs.timeline(roomId).filter((e) => e.type === 'm.room.message' && e.sender !== h.alice);
    expect(sent.map((e) => e.content['url'])).toEqual(['mxc://hs.test/a', 'mxc://hs.test/b']);
    expect(result.platformEventId).toBe(sent[0]!.event_id);
  });
});
