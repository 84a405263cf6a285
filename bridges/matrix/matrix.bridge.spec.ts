import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { Logger } from '@nestjs/common';
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import { type LegacyRoomRef, type MessageAction, ParticipantRole, type RemoteUser } from '../../src/ports';
import { type FakeEvent } from '../../test/kits/matrix/fake-homeserver';
import { MATRIX_BOT, type MatrixHarness, startMatrixHarness } from '../../test/kits/matrix/matrix-harness';
import { CanaryServer } from '../../test/support/canary-server';
import { echoKeysOf } from '../kit/echo-keys';
import { MatrixBridge } from './matrix.bridge';
import { toPlatformError, txnIdFor } from './matrix-errors';

/**
 * The Matrix bridge's port members, against a fake homeserver on loopback
 * (test/kits/matrix/fake-homeserver.ts): which client-server calls each member makes, what
 * counts as accepted, and what the homeserver's errors become.
 */

const CAROL: RemoteUser = { userUri: 'mimi://follower.example/u/carol' as UserUri, displayName: 'Carol' };
const TIMEOUT_MS = 5_000;

describe('MatrixBridge (fake homeserver)', () => {
  let h: MatrixHarness;
  let roomId: string;
  let room: LegacyRoomRef;
  let carol: string;
  let seq = 0;
  const key = (): string => `idem-${++seq}`;
  const post = (action: MessageAction, idempotencyKey = key()) =>
    h.bridge.post(room, CAROL, action, { idempotencyKey, timeoutMs: TIMEOUT_MS });
  const text = (t: string, kind: 'text' | 'notice' | 'emote' = 'text'): MessageAction => ({
    type: 'post',
    body: { kind, text: t },
  });
  /** The one event the homeserver stored for a send/redact request. */
  const stored = (eventId: string): FakeEvent => h.hs.timeline(roomId).find((e) => e.event_id === eventId)!;

  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(async () => {
    h = await startMatrixHarness();
    roomId = h.hs.createRoom(h.alice, { joinRule: 'public', name: 'Lobby' });
    room = { platform: Platform.Matrix, roomId };
    carol = h.bridge.ids.ghostUserId(CAROL.userUri)!;
  });
  afterEach(async () => {
    await h.stop();
  });

  describe('post', () => {
    it('sends text as the ghost with a transaction ID from the idempotency key; accepted = the event ID the homeserver returned', async () => {
      const result = await post(text('hello'), 'msg-1');
      const sends = h.hs.calls(/\/send\//, 'PUT');
      expect(sends).toHaveLength(1);
      expect(sends[0]!.userId).toBe(carol);
      expect(sends[0]!.path).toBe(
        `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/${txnIdFor('post', 'msg-1')}`,
      );
      expect(sends[0]!.body).toMatchObject({ msgtype: 'm.text', body: 'hello', 'm.mentions': { user_ids: [] } });
      const ev = stored(result.platformEventId);
      expect(ev).toMatchObject({ type: 'm.room.message', sender: carol, content: { body: 'hello' } });
      expect(result.echoKeys).toEqual([txnIdFor('post', 'msg-1')]);
      expect(result.acceptedAt).toBeGreaterThan(0);
    });

    it('joins the ghost (registering it) before its first post, once', async () => {
      await post(text('one'));
      await post(text('two'));
      expect(h.hs.calls(/\/register$/, 'POST').map((r) => r.body['username'])).toContain(carol.slice(1).split(':')[0]);
      expect(h.hs.calls(/\/join\//, 'POST').filter((r) => r.userId === carol)).toHaveLength(1);
      expect(h.hs.membershipOf(roomId, carol)).toBe('join');
    });

    it.each([
      ['notice', 'm.notice'],
      ['emote', 'm.emote'],
    ] as const)('maps a %s to msgtype %s', async (kind, msgtype) => {
      const result = await post(text('hi', kind));
      expect(stored(result.platformEventId).content).toMatchObject({ msgtype, body: 'hi' });
    });

    it('links attachments on loopback, link-local, private hosts and file: without fetching or uploading them (T27)', async () => {
      const canary = await CanaryServer.start();
      try {
        const urls = [
          canary.url('/a.png'),
          // The path of this homeserver's media, on another origin: a link, not an mxc URI.
          canary.url('/_matrix/client/v1/media/download/hs.test/abc'),
          `https://localhost:${canary.port}/b.png`,
          'http://169.254.169.254/latest/meta-data/c.png',
          'https://10.0.0.1/d.png',
          'file:///etc/passwd',
        ];
        for (const url of urls) {
          const result = await post({
            type: 'post',
            body: { kind: 'text', text: 'see', attachments: [{ url, contentType: 'image/png', filename: 'f.png' }] },
          });
          const content = stored(result.platformEventId).content;
          expect(content).toMatchObject({ msgtype: 'm.text', body: expect.stringContaining('see') });
          expect(content).not.toHaveProperty('url');
          expect(String(content['formatted_body'] ?? content['body'])).toContain('f.png');
        }
        expect(h.hs.calls(/\/upload/)).toEqual([]);
        expect(canary.requests).toEqual([]);
        expect(canary.hits).toBe(0);
      } finally {
        await canary.close();
      }
    });

    it('sends Markdown as org.matrix.custom.html next to the plain body', async () => {
      const result = await post({ type: 'post', body: { kind: 'text', text: 'bold', markdown: '**bold**' } });
      expect(stored(result.platformEventId).content).toMatchObject({
        body: 'bold',
        format: 'org.matrix.custom.html',
        formatted_body: expect.stringContaining('<strong>bold</strong>'),
      });
    });

    it('sends a reply with m.in_reply_to', async () => {
      const original = await post(text('question'));
      const reply = await post({ type: 'post', body: { kind: 'text', text: 'answer' }, inReplyTo: original });
      expect(stored(reply.platformEventId).content['m.relates_to']).toEqual({
        'm.in_reply_to': { event_id: original.platformEventId },
      });
    });

    it('sends an edit as m.replace with m.new_content and a "* " fallback', async () => {
      const original = await post(text('helo'));
      const edit = await post({ type: 'edit', target: original, body: { kind: 'text', text: 'hello' } });
      expect(stored(edit.platformEventId)).toMatchObject({
        type: 'm.room.message',
        content: {
          body: '* hello',
          'm.new_content': { msgtype: 'm.text', body: 'hello' },
          'm.relates_to': { rel_type: 'm.replace', event_id: original.platformEventId },
        },
      });
    });

    it('sends a reaction as m.reaction (m.annotation) and an unlike as its redaction', async () => {
      const original = await post(text('nice'));
      const like = await post({ type: 'react', target: original, key: '👍' });
      expect(stored(like.platformEventId)).toMatchObject({
        type: 'm.reaction',
        content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: original.platformEventId, key: '👍' } },
      });
      const unlike = await post({ type: 'unreact', reaction: like }, 'unlike-1');
      expect(h.hs.calls(/\/redact\//, 'PUT').map((r) => r.path)).toEqual([
        `/_matrix/client/v3/rooms/${roomId}/redact/${like.platformEventId}/${txnIdFor('post', 'unlike-1')}`,
      ]);
      expect(stored(unlike.platformEventId)).toMatchObject({ type: 'm.room.redaction', redacts: like.platformEventId });
    });

    it('sends a delete as a redaction of the target', async () => {
      const original = await post(text('oops'));
      const del = await post({ type: 'delete', target: original });
      expect(stored(del.platformEventId)).toMatchObject({
        type: 'm.room.redaction',
        sender: carol,
        redacts: original.platformEventId,
      });
    });

    it('posts once per idempotency key; a restarted bridge reuses the transaction ID, so the homeserver keeps one event', async () => {
      const first = await post(text('once'), 'same-key');
      expect(await post(text('once'), 'same-key')).toEqual(first);
      expect(h.hs.calls(/\/send\//, 'PUT')).toHaveLength(1);

      // A second bridge process (nothing remembered) sends the same transaction ID again.
      const again = new MatrixBridge(
        (h.bridge as unknown as { opts: ConstructorParameters<typeof MatrixBridge>[0] }).opts,
      );
      await again.start(async () => undefined);
      try {
        const second = await again.post(room, CAROL, text('once'), {
          idempotencyKey: 'same-key',
          timeoutMs: TIMEOUT_MS,
        });
        expect(second.platformEventId).toBe(first.platformEventId);
        const sends = h.hs.calls(/\/send\//, 'PUT');
        expect(sends).toHaveLength(2);
        expect(sends[1]!.path).toBe(sends[0]!.path);
        expect(h.hs.timeline(roomId).filter((e) => e.content['body'] === 'once')).toHaveLength(1);
      } finally {
        await again.stop();
      }
    });

    it('in an invite-only room the bot invites the ghost, which then joins', async () => {
      const closed = h.hs.createRoom(h.alice, { joinRule: 'invite' });
      const result = await h.bridge.post({ platform: Platform.Matrix, roomId: closed }, CAROL, text('let me in'), {
        idempotencyKey: key(),
        timeoutMs: TIMEOUT_MS,
      });
      expect(h.hs.calls(/\/invite$/, 'POST')).toEqual([
        expect.objectContaining({ userId: MATRIX_BOT, body: expect.objectContaining({ user_id: carol }) }),
      ]);
      expect(h.hs.membershipOf(closed, carol)).toBe('join');
      expect(h.hs.timeline(closed).find((e) => e.event_id === result.platformEventId)?.content['body']).toBe(
        'let me in',
      );
    });

    it('refuses a user URI that has no ghost, without calling the homeserver', async () => {
      const before = h.hs.requests.length;
      await expect(
        h.bridge.post(room, { userUri: 'not a uri' as UserUri }, text('x'), {
          idempotencyKey: key(),
          timeoutMs: TIMEOUT_MS,
        }),
      ).rejects.toMatchObject({ code: ErrorCode.PlatformRejected, retryable: false });
      expect(h.hs.requests.length).toBe(before);
    });
  });

  describe('errors from the homeserver', () => {
    it('waits out a 429 retry_after_ms and sends the same transaction again (T12)', async () => {
      await post(text('warm up')); // the ghost is registered and joined
      const before = h.hs.calls(/\/send\//, 'PUT').length;
      h.hs.failNext('PUT', /\/send\//, 429, {
        errcode: 'M_LIMIT_EXCEEDED',
        error: 'Too many requests',
        retry_after_ms: 400,
      });
      const result = await post(text('too fast'), 'fast-1');
      const sends = h.hs.calls(/\/send\//, 'PUT').slice(before);
      expect(sends.map((s) => s.path)).toEqual([sends[0]!.path, sends[0]!.path]);
      expect(sends[0]!.path).toContain(txnIdFor('post', 'fast-1'));
      expect(sends[1]!.at - sends[0]!.at).toBeGreaterThanOrEqual(400);
      expect(stored(result.platformEventId).content['body']).toBe('too fast');
    });

    it('waits out a 429 Retry-After header (seconds) too (T12)', async () => {
      await post(text('warm up'));
      const before = h.hs.calls(/\/send\//, 'PUT').length;
      h.hs.failNext(
        'PUT',
        /\/send\//,
        429,
        { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down' },
        { 'retry-after': '1' },
      );
      await post(text('later'));
      const sends = h.hs.calls(/\/send\//, 'PUT').slice(before);
      expect(sends).toHaveLength(2);
      expect(sends[1]!.at - sends[0]!.at).toBeGreaterThanOrEqual(1000);
    });

    it('fails a 429 whose wait passes the deadline at once, retryable, carrying the wait for the caller (T12)', async () => {
      await post(text('warm up'));
      const before = h.hs.calls(/\/send\//, 'PUT').length;
      h.hs.failNext('PUT', /\/send\//, 429, {
        errcode: 'M_LIMIT_EXCEEDED',
        error: 'Too many requests',
        retry_after_ms: 2 * TIMEOUT_MS,
      });
      const err = await post(text('too fast')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlatformError);
      expect(err).toMatchObject({ code: ErrorCode.PlatformUnavailable, retryable: true, retryAfterMs: 2 * TIMEOUT_MS });
      expect((err as Error).message).toMatch(/429 M_LIMIT_EXCEEDED/);
      expect(h.hs.calls(/\/send\//, 'PUT').slice(before)).toHaveLength(1);
    });

    it('403 M_FORBIDDEN on a send is a permanent PlatformRejected that names the status and errcode', async () => {
      await post(text('warm up'));
      h.hs.failNext('PUT', /\/send\//, 403, { errcode: 'M_FORBIDDEN', error: 'You are not allowed to send' });
      const err = await post(text('forbidden')).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCode.PlatformRejected, retryable: false });
      expect((err as Error).message).toMatch(/^post to .* as .*: 403 M_FORBIDDEN/);
    });

    it('a 5xx is retryable and a retry with the same key then succeeds once', async () => {
      h.hs.failNext('PUT', /\/send\//, 502, { errcode: 'M_UNKNOWN', error: 'bad gateway' });
      await expect(post(text('flaky'), 'flaky-1')).rejects.toMatchObject({
        code: ErrorCode.PlatformUnavailable,
        retryable: true,
      });
      const ok = await post(text('flaky'), 'flaky-1');
      expect(stored(ok.platformEventId).content['body']).toBe('flaky');
    });

    it('a homeserver that does not answer in time is a retryable Timeout', async () => {
      await post(text('warm up'));
      h.hs.holdNext('PUT', /\/send\//);
      await expect(
        h.bridge.post(room, CAROL, text('slow'), { idempotencyKey: key(), timeoutMs: 300 }),
      ).rejects.toMatchObject({ code: ErrorCode.Timeout, retryable: true });
    });

    it('toPlatformError: network errors are retryable, other 4xx permanent, PlatformErrors kept', () => {
      expect(toPlatformError(new Error('ECONNREFUSED'), 'x')).toMatchObject({
        code: ErrorCode.PlatformUnavailable,
        retryable: true,
      });
      expect(toPlatformError({ statusCode: 404, body: { errcode: 'M_NOT_FOUND' } }, 'x')).toMatchObject({
        code: ErrorCode.PlatformRejected,
        retryable: false,
        message: expect.stringContaining('404 M_NOT_FOUND'),
      });
      const kept = new PlatformError(ErrorCode.Timeout, 'slow');
      expect(toPlatformError(kept, 'x')).toBe(kept);
    });

    it('starts while the homeserver cannot be reached and reports it failing for /health (T10)', async () => {
      const opts = (h.bridge as unknown as { opts: ConstructorParameters<typeof MatrixBridge>[0] }).opts;
      const closed = createServer().listen(0, '127.0.0.1');
      await once(closed, 'listening');
      const port = (closed.address() as AddressInfo).port;
      await new Promise((r) => closed.close(r)); // nothing listens there now: connection refused
      const homeserverUrl = `http://127.0.0.1:${port}`;
      const dead = new MatrixBridge({ ...opts, matrix: { ...opts.matrix, homeserverUrl } });
      try {
        await dead.start(async () => undefined);
        expect(dead.port).toBeGreaterThan(0); // the appservice listens for the homeserver's retries
        while (dead.health().state === 'pending') await new Promise((r) => setTimeout(r, 20));
        expect(dead.health()).toEqual({
          state: 'failing',
          detail: expect.stringMatching(/^homeserver ping: .*\(attempt 1, next in 1 s\)$/),
        });
      } finally {
        await dead.stop();
      }
    });

    it('retries the start-up ping until the homeserver reaches us, and reports its state for /health (T10)', async () => {
      const opts = (h.bridge as unknown as { opts: ConstructorParameters<typeof MatrixBridge>[0] }).opts;
      const until = async (pred: () => boolean): Promise<void> => {
        while (!pred()) await new Promise((r) => setTimeout(r, 20));
      };
      await until(() => h.bridge.health().state === 'ok'); // the harness's bridge: pinged once, done
      const second = new MatrixBridge(opts);
      h.hs.appserviceUrl = 'http://127.0.0.1:1'; // the homeserver cannot reach us yet
      const pings = () => h.hs.calls(/\/appservice\/.*\/ping$/, 'POST').length;
      const before = pings();
      try {
        expect(second.health().state).toBe('pending');
        await second.start(async () => undefined);
        await until(() => second.health().state !== 'pending');
        expect(second.health()).toEqual({
          state: 'failing',
          detail: expect.stringMatching(/^homeserver ping: 502 .*M_CONNECTION_FAILED.*\(attempt 1, next in 1 s\)$/),
        });
        h.hs.appserviceUrl = `http://127.0.0.1:${second.port}`;
        await until(() => second.health().state === 'ok');
        expect(pings() - before).toBe(2);
      } finally {
        await second.stop();
      }
    });

    it('after stop, posting is refused as PlatformUnavailable', async () => {
      await h.bridge.stop();
      await expect(post(text('late'))).rejects.toMatchObject({ code: ErrorCode.PlatformUnavailable });
    });
  });

  describe('membership of ghosts', () => {
    it('join registers the ghost, joins it and sets its per-room display name', async () => {
      await h.bridge.setMembership(room, CAROL, 'join');
      expect(h.hs.membershipOf(roomId, carol)).toBe('join');
      expect(h.hs.stateEvent(roomId, 'm.room.member', carol)?.content).toMatchObject({
        membership: 'join',
        displayname: 'Carol',
      });
      expect(h.hs.calls(/\/register$/, 'POST')).not.toHaveLength(0);
    });

    it('leave makes the ghost leave; leaving again resolves (idempotent)', async () => {
      await h.bridge.setMembership(room, CAROL, 'join');
      await h.bridge.setMembership(room, CAROL, 'leave');
      expect(h.hs.membershipOf(roomId, carol)).toBe('leave');
      await expect(h.bridge.setMembership(room, CAROL, 'leave')).resolves.toBeUndefined();
    });
  });

  describe('moderation and power levels', () => {
    it('kick, ban and unban are done by the bot, with the reason', async () => {
      const bob = '@bob:hs.test';
      h.hs.emit(roomId, bob, 'm.room.member', { membership: 'join' }, bob);
      await h.bridge.moderate(room, { platform: Platform.Matrix, userId: bob }, 'kick', 'spam');
      expect(h.hs.stateEvent(roomId, 'm.room.member', bob)).toMatchObject({
        sender: MATRIX_BOT,
        content: { membership: 'leave', reason: 'spam' },
      });
      await h.bridge.moderate(room, CAROL, 'ban');
      expect(h.hs.membershipOf(roomId, carol)).toBe('ban');
      await h.bridge.moderate(room, CAROL, 'unban');
      expect(h.hs.membershipOf(roomId, carol)).toBe('leave');
      expect(h.hs.calls(/\/(kick|ban|unban)$/, 'POST').map((r) => [r.path.split('/').pop(), r.userId])).toEqual([
        ['kick', MATRIX_BOT],
        ['ban', MATRIX_BOT],
        ['unban', MATRIX_BOT],
      ]);
    });

    it('setRole edits m.room.power_levels: moderator 50, admin 75, member back to users_default; banned bans', async () => {
      const pl = (): Record<string, unknown> =>
        h.hs.stateEvent(roomId, 'm.room.power_levels')!.content['users'] as Record<string, unknown>;
      await h.bridge.setRole(room, CAROL, ParticipantRole.Moderator);
      expect(pl()[carol]).toBe(50);
      await h.bridge.setRole(room, CAROL, ParticipantRole.Admin);
      expect(pl()[carol]).toBe(75);
      await h.bridge.setRole(room, CAROL, ParticipantRole.Member);
      expect(pl()).not.toHaveProperty(carol);
      expect(pl()[h.alice]).toBe(100); // other users kept
      const writes = h.hs.calls(/\/state\/m\.room\.power_levels\/?$/, 'PUT');
      expect(writes).toHaveLength(3);
      expect(writes.every((w) => w.userId === MATRIX_BOT)).toBe(true);
      await h.bridge.setRole(room, CAROL, ParticipantRole.Banned);
      expect(h.hs.membershipOf(roomId, carol)).toBe('ban');
    });

    it('setRole without the rights is a permanent PlatformRejected', async () => {
      h.hs.failNext('PUT', /\/state\/m\.room\.power_levels/, 403, { errcode: 'M_FORBIDDEN', error: 'no power' });
      await expect(h.bridge.setRole(room, CAROL, ParticipantRole.Moderator)).rejects.toMatchObject({
        code: ErrorCode.PlatformRejected,
        retryable: false,
      });
    });

    it('getRoomSnapshot maps state to name and roles (power 100 owner, 50 moderator, 0 member), without the bot', async () => {
      const bob = '@bob:hs.test';
      h.hs.emit(roomId, bob, 'm.room.member', { membership: 'join', displayname: 'Bob' }, bob);
      h.hs.emit(
        roomId,
        h.alice,
        'm.room.power_levels',
        { users: { [h.alice]: 100, [MATRIX_BOT]: 100, [bob]: 50 }, users_default: 0 },
        '',
      );
      await h.bridge.setMembership(room, CAROL, 'join');
      const snap = await h.bridge.getRoomSnapshot(room);
      expect(snap.name).toBe('Lobby');
      const roles = Object.fromEntries(
        snap.members.map((m) => ['userUri' in m.user ? m.user.userUri : m.user.userId, m.role]),
      );
      expect(roles).toEqual({
        [h.alice]: ParticipantRole.Owner,
        [bob]: ParticipantRole.Moderator,
        [CAROL.userUri]: ParticipantRole.Member,
      });
    });
  });

  describe('join rules, mirror rooms, failure notices', () => {
    it('joinRule: public for public rooms, invite for invite-only ones and for rooms without the event', async () => {
      expect(await h.bridge.joinRule(room)).toBe('public');
      const closed = h.hs.createRoom(h.alice, { joinRule: 'invite' });
      expect(await h.bridge.joinRule({ platform: Platform.Matrix, roomId: closed })).toBe('invite');
      h.hs.failNext('GET', /\/state\/m\.room\.join_rules/, 404, { errcode: 'M_NOT_FOUND', error: 'none' });
      expect(await h.bridge.joinRule({ platform: Platform.Matrix, roomId: closed })).toBe('invite');
    });

    it('createMirrorRoom creates a room with the portal alias once; asking again returns the same room', async () => {
      const uri = 'mimi://hub.example/r/lobby' as RoomUri;
      const first = await h.bridge.createMirrorRoom(uri, { name: 'Hub lobby' });
      expect(h.hs.calls(/\/createRoom$/, 'POST')[0]!.body).toMatchObject({
        room_alias_name: h.bridge.ids.portalAliasLocalpart(uri),
        preset: 'public_chat',
        name: 'Hub lobby',
      });
      expect(await h.bridge.createMirrorRoom(uri, {})).toEqual(first);
      expect(h.hs.rooms.size).toBe(2); // the lobby and one mirror
    });

    it('notifyFailure: the bot replies to the message with an m.notice, once per message and text', async () => {
      await h.bridge.notifyFailure(room, { platformEventId: '$orig' }, 'the hub refused it');
      await h.bridge.notifyFailure(room, { platformEventId: '$orig' }, 'the hub refused it');
      const notices = h.hs.timeline(roomId).filter((e) => e.content['msgtype'] === 'm.notice');
      expect(notices).toEqual([
        expect.objectContaining({
          sender: MATRIX_BOT,
          content: expect.objectContaining({
            body: '⚠️ the hub refused it',
            'm.relates_to': { 'm.in_reply_to': { event_id: '$orig' } },
          }),
        }),
      ]);
    });
  });

  describe('inbound', () => {
    it("a native user's message reaches the sink as the native user; the transaction is acknowledged after", async () => {
      const ev = h.hs.emit(roomId, h.alice, 'm.room.message', { msgtype: 'm.text', body: 'hi from Matrix' });
      const got = await h.sink.waitFor('message', (e) => e.platformEventId === ev.event_id, 5_000);
      expect(got).toMatchObject({
        room,
        sender: { platform: Platform.Matrix, userId: h.alice },
        action: { type: 'post', body: { kind: 'text', text: 'hi from Matrix' } },
      });
      await h.hs.settled();
      expect(h.hs.pushed.at(-1)).toMatchObject({ status: 200 });
    });

    it('a refused event is not acknowledged, so the homeserver sends the transaction again', async () => {
      h.sink.failNext(1);
      h.hs.emit(roomId, h.alice, 'm.room.message', { msgtype: 'm.text', body: 'retry me' });
      await h.hs.settled();
      expect(h.hs.pushed.at(-1)!.status).toBeGreaterThanOrEqual(500);
    });

    it("the echo of the bridge's own post comes back as the ghost, with the post's echo keys", async () => {
      const result = await post(text('echo?'));
      const echo = await h.sink.waitFor('message', (e) => e.platformEventId === result.platformEventId, 5_000);
      expect(echo.sender).toEqual(expect.objectContaining({ userUri: CAROL.userUri }));
      expect(echoKeysOf(echo)).toEqual(result.echoKeys);
    });

    it("the bot's own notices are not reported", async () => {
      await h.bridge.notifyFailure(room, { platformEventId: '$x' }, 'nope');
      await h.hs.settled();
      expect(h.sink.events.filter((e) => e.kind === 'message')).toEqual([]);
    });
  });
});
