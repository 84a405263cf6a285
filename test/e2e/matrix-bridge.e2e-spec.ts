import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoKeysOf } from '../../bridges/kit/echo-keys';
import { MatrixBridge, type MatrixBridgeOptions } from '../../bridges/matrix/matrix.bridge';
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import { type LegacyRoomRef, ParticipantRole, type RemoteUser } from '../../src/ports';
import {
  generateAppserviceRegistration,
  renderRegistrationYaml,
  type AppserviceRegistration,
} from '../../registration/generate-appservice-registration';
import { loadOrCreateMatrixTokens } from '../../registration/matrix-tokens';
import { FakeBridgeHost, RecordingSink } from '../servers/synapse/recording-sink';
import {
  type ClientEvent,
  type MatrixUserClient,
  putTransaction,
  registerUser,
  startSynapse,
  type SynapseServer,
} from '../servers/synapse/synapse-server';

/**
 * The Matrix bridge against a real Synapse (scripts/synapse.sh): Matrix users act through the
 * client-server API; the bridge reports to a recording sink and posts as ghosts.
 */

const SERVER_NAME = 'synapse.test';
const PROVIDER = 'gw.example';
const PREFIX = '_mimi_';
const FOLLOWER_USER: RemoteUser = {
  userUri: 'mimi://follower.example/u/carol' as UserUri,
  displayName: 'Carol (MIMI)',
};
const FOLLOWER_USER_2: RemoteUser = { userUri: 'mimi://follower.example/u/dave' as UserUri, displayName: 'Dave' };
const POST_TIMEOUT_MS = 15_000;
const HOSTILE_HTML =
  '<p>hi <script>alert(1)</script><img src="https://evil.example/x.png" onerror="alert(2)">' +
  '<a href="javascript:alert(3)">click</a> <b onclick="x()">bold</b><iframe src="https://evil.example"></iframe>' +
  '<style>body{}</style>&lt;img src=x&gt;</p>';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('MatrixBridge against a real Synapse', () => {
  let dir: string;
  let hs: SynapseServer;
  let reg: AppserviceRegistration;
  let asPort: number;
  let alice: MatrixUserClient;
  let bob: MatrixUserClient;
  let sink: RecordingSink;
  let host: FakeBridgeHost;
  let bridge: MatrixBridge;
  let roomId: string;
  let room: LegacyRoomRef;
  let seq = 0;
  const key = (): string => `idem-${Date.now()}-${++seq}`;
  const ghostOf = (u: RemoteUser): string => bridge.ids.ghostUserId(u.userUri)!;
  const asUrl = (): string => `http://127.0.0.1:${asPort}`;

  function bridgeOptions(): MatrixBridgeOptions {
    return {
      matrix: {
        homeserverUrl: hs.url,
        domain: SERVER_NAME,
        appserviceHost: '127.0.0.1',
        appservicePort: asPort,
        prefix: PREFIX,
        botLocalpart: 'mimibot',
        linkPowerLevel: 100,
      },
      registration: reg,
    };
  }

  async function startBridge(): Promise<MatrixBridge> {
    const b = new MatrixBridge(bridgeOptions());
    await b.start(sink.fn, host);
    return b;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mimi-matrix-e2e-'));
    asPort = await freePort();
    const { tokens } = loadOrCreateMatrixTokens(join(dir, 'matrix-tokens.yaml'));
    reg = generateAppserviceRegistration(
      {
        homeserverUrl: 'http://127.0.0.1:8008',
        domain: SERVER_NAME,
        appserviceHost: '127.0.0.1',
        appservicePort: asPort,
        prefix: PREFIX,
        botLocalpart: 'mimibot',
      },
      tokens,
    );
    const regFile = join(dir, 'registration.yaml');
    writeFileSync(regFile, renderRegistrationYaml(reg), { mode: 0o600 });
    hs = await startSynapse({ registrationFile: regFile, serverName: SERVER_NAME });
    alice = await registerUser(hs, 'alice');
    bob = await registerUser(hs, 'bob');
    sink = new RecordingSink();
    host = new FakeBridgeHost(PROVIDER);
    bridge = await startBridge();
    host.mirror = (uri: RoomUri) => bridge.createMirrorRoom(uri, { name: 'Mirror' });
    roomId = await alice.createRoom({ name: 'Bridged', preset: 'private_chat', invite: [bridge.ids.botUserId] });
    room = { platform: Platform.Matrix, roomId };
    await alice.waitForEvent(
      (e) =>
        e.room_id === roomId &&
        e.type === 'm.room.member' &&
        e.state_key === bridge.ids.botUserId &&
        e.content['membership'] === 'join',
    );
  }, 600_000);

  afterAll(async () => {
    await bridge?.stop();
    await hs?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const noticeReplyTo = (eventId: string) => (e: ClientEvent) =>
    e.room_id === roomId &&
    e.sender === bridge.ids.botUserId &&
    e.content['msgtype'] === 'm.notice' &&
    (e.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined)?.['m.in_reply_to']
      ?.event_id === eventId;

  describe('in-room commands', () => {
    it('refuses !mimi link from a user below matrix.linkPowerLevel', async () => {
      await alice.invite(roomId, bob.userId);
      await bob.join(roomId);
      const cmd = await bob.sendText(roomId, '!mimi link');
      const notice = await alice.waitForEvent(noticeReplyTo(cmd));
      expect(String(notice.content['body'])).toContain('power level 100');
      expect(host.calls.filter((c) => c.op === 'link')).toHaveLength(0);
    });

    it('links the room for an admin through the BridgeHost and answers in the room', async () => {
      const cmd = await alice.sendText(roomId, '!mimi link');
      const notice = await alice.waitForEvent(noticeReplyTo(cmd));
      expect(host.calls).toContainEqual({ op: 'link', roomId, by: alice.userId });
      expect(String(notice.content['body'])).toContain(`mimi://${PROVIDER}/r/`);
      const status = await alice.sendText(roomId, '!mimi status');
      const statusNotice = await alice.waitForEvent(noticeReplyTo(status));
      expect(String(statusNotice.content['body'])).toContain('(hub, hub gw.example)');
      // Commands are not room content.
      expect(sink.find('message', (e) => e.platformEventId === cmd)).toBeUndefined();
    });
  });

  describe('Matrix → sink', () => {
    it('delivers a message, a reply, an edit, a reaction and both kinds of redaction', async () => {
      const original = await alice.sendText(roomId, 'hello **world**', {
        format: 'org.matrix.custom.html',
        formatted_body: 'hello <strong>world</strong>',
      });
      const msg = await sink.waitFor('message', (e) => e.platformEventId === original);
      expect(msg.sender).toMatchObject({ platform: Platform.Matrix, userId: alice.userId });
      expect(msg.action).toEqual({
        type: 'post',
        body: { kind: 'text', text: 'hello **world**', markdown: 'hello **world**' },
      });

      const reply = await bob.sendText(roomId, '> <@alice:synapse.test> hello\n\nanswer', {
        'm.relates_to': { 'm.in_reply_to': { event_id: original } },
      });
      const r = await sink.waitFor('message', (e) => e.platformEventId === reply);
      expect(r.action).toEqual({
        type: 'post',
        body: { kind: 'text', text: 'answer' },
        inReplyTo: { platformEventId: original },
      });

      const edit = await alice.send(roomId, 'm.room.message', {
        msgtype: 'm.text',
        body: '* hello again',
        'm.new_content': { msgtype: 'm.text', body: 'hello again' },
        'm.relates_to': { rel_type: 'm.replace', event_id: original },
      });
      const ed = await sink.waitFor('message', (e) => e.platformEventId === edit);
      expect(ed.action).toEqual({
        type: 'edit',
        target: { platformEventId: original },
        body: { kind: 'text', text: 'hello again' },
      });

      const reaction = await bob.send(roomId, 'm.reaction', {
        'm.relates_to': { rel_type: 'm.annotation', event_id: original, key: '👍' },
      });
      const re = await sink.waitFor('message', (e) => e.platformEventId === reaction);
      expect(re.action).toEqual({ type: 'react', target: { platformEventId: original }, key: '👍' });

      const unreact = await bob.redact(roomId, reaction);
      const un = await sink.waitFor('message', (e) => e.platformEventId === unreact);
      expect(un.action).toEqual({ type: 'unreact', reaction: { platformEventId: reaction } });

      const del = await alice.redact(roomId, original);
      const d = await sink.waitFor('message', (e) => e.platformEventId === del);
      expect(d.action).toEqual({ type: 'delete', target: { platformEventId: original } });
    });

    it('turns hostile HTML into Markdown without any HTML', async () => {
      const id = await alice.sendText(roomId, 'hi click bold', {
        format: 'org.matrix.custom.html',
        formatted_body: HOSTILE_HTML,
      });
      const m = await sink.waitFor('message', (e) => e.platformEventId === id);
      const body = m.action.type === 'post' ? m.action.body : undefined;
      expect(body?.markdown).toBe('hi click **bold**&lt;img src=x>');
      expect(body?.markdown).not.toMatch(/<[a-z]|javascript:|onerror|alert/i);
    });
  });

  describe('ghosts → Matrix', () => {
    it('posts, replies, edits, reacts and deletes as the ghost; the echoes carry the echo keys', async () => {
      const ghost = ghostOf(FOLLOWER_USER);
      const post = await bridge.post(
        room,
        FOLLOWER_USER,
        { type: 'post', body: { kind: 'text', text: 'from **MIMI**', markdown: 'from **MIMI**' } },
        { idempotencyKey: key(), timeoutMs: POST_TIMEOUT_MS },
      );
      const seen = await alice.waitForEvent((e) => e.event_id === post.platformEventId);
      expect(seen.sender).toBe(ghost);
      expect(seen.content).toMatchObject({
        msgtype: 'm.text',
        body: 'from MIMI',
        formatted_body: '<p>from <strong>MIMI</strong></p>',
      });
      const echo = await sink.waitFor('message', (e) => e.platformEventId === post.platformEventId);
      expect(echo.sender).toEqual({ userUri: FOLLOWER_USER.userUri });
      expect(echoKeysOf(echo)).toEqual(post.echoKeys);

      const aliceMsg = await alice.sendText(roomId, 'question');
      const reply = await bridge.post(
        room,
        FOLLOWER_USER,
        { type: 'post', body: { kind: 'text', text: 'answer' }, inReplyTo: { platformEventId: aliceMsg } },
        { idempotencyKey: key(), timeoutMs: POST_TIMEOUT_MS },
      );
      const replySeen = await alice.waitForEvent((e) => e.event_id === reply.platformEventId);
      expect(replySeen.content['m.relates_to']).toEqual({ 'm.in_reply_to': { event_id: aliceMsg } });
      expect(replySeen.content['body']).toBe('answer');

      const edit = await bridge.post(
        room,
        FOLLOWER_USER,
        { type: 'edit', target: { platformEventId: post.platformEventId }, body: { kind: 'text', text: 'edited' } },
        { idempotencyKey: key(), timeoutMs: POST_TIMEOUT_MS },
      );
      const editSeen = await alice.waitForEvent((e) => e.event_id === edit.platformEventId);
      expect(editSeen.content['m.new_content']).toMatchObject({ msgtype: 'm.text', body: 'edited' });
      expect(editSeen.content['m.relates_to']).toEqual({ rel_type: 'm.replace', event_id: post.platformEventId });

      const react = await bridge.post(
        room,
        FOLLOWER_USER,
        { type: 'react', target: { platformEventId: aliceMsg }, key: '🎉' },
        { idempotencyKey: key(), timeoutMs: POST_TIMEOUT_MS },
      );
      const reactSeen = await alice.waitForEvent((e) => e.event_id === react.platformEventId);
      expect(reactSeen).toMatchObject({ type: 'm.reaction', sender: ghost });

      const del = await bridge.post(
        room,
        FOLLOWER_USER,
        { type: 'delete', target: { platformEventId: post.platformEventId } },
        { idempotencyKey: key(), timeoutMs: POST_TIMEOUT_MS },
      );
      const delSeen = await alice.waitForEvent((e) => e.event_id === del.platformEventId);
      expect(delSeen).toMatchObject({ type: 'm.room.redaction', sender: ghost });
      const gone = await alice.getEvent(roomId, post.platformEventId);
      expect(gone.content).toEqual({});
      const delEcho = await sink.waitFor('message', (e) => e.platformEventId === del.platformEventId);
      expect(delEcho.action).toEqual({ type: 'delete', target: { platformEventId: post.platformEventId } });
      expect(echoKeysOf(delEcho)).toEqual(del.echoKeys);
    });

    it('posts once for one idempotency key, even from a restarted bridge', async () => {
      const k = key();
      const action = { type: 'post' as const, body: { kind: 'text' as const, text: 'once' } };
      const a = await bridge.post(room, FOLLOWER_USER, action, { idempotencyKey: k, timeoutMs: POST_TIMEOUT_MS });
      expect(await bridge.post(room, FOLLOWER_USER, action, { idempotencyKey: k, timeoutMs: POST_TIMEOUT_MS })).toEqual(
        a,
      );
      // A fresh instance has no memory of the post: the homeserver's transaction de-duplication answers.
      const restarted = new MatrixBridge({ ...bridgeOptions(), listenPort: 0 });
      await restarted.start(new RecordingSink().fn);
      try {
        const b = await restarted.post(room, FOLLOWER_USER, action, { idempotencyKey: k, timeoutMs: POST_TIMEOUT_MS });
        expect(b.platformEventId).toBe(a.platformEventId);
      } finally {
        await restarted.stop();
      }
    });
  });

  describe('membership and roles', () => {
    it('reports joins, leaves, invites, kicks and power-level changes of Matrix users', async () => {
      const carolRoom = await alice.createRoom({ preset: 'public_chat', invite: [bridge.ids.botUserId] });
      await alice.waitForEvent(
        (e) => e.room_id === carolRoom && e.state_key === bridge.ids.botUserId && e.content['membership'] === 'join',
      );
      const join = await bob
        .join(carolRoom)
        .then(() =>
          sink.waitFor(
            'membership',
            (e) =>
              e.room.roomId === carolRoom &&
              e.membership === 'join' &&
              'userId' in e.user &&
              e.user.userId === bob.userId,
          ),
        );
      expect(join.by).toBeUndefined();
      await alice.setState(carolRoom, 'm.room.power_levels', '', {
        ...(await alice.getState<Record<string, unknown>>(carolRoom, 'm.room.power_levels')),
        users: { [bridge.ids.botUserId]: 100, [bob.userId]: 50 },
      });
      const role = await sink.waitFor(
        'role',
        (e) => e.room.roomId === carolRoom && 'userId' in e.user && e.user.userId === bob.userId,
      );
      expect(role.role).toBe(ParticipantRole.Moderator);
      expect(role.by).toMatchObject({ userId: alice.userId });
      await bob.leave(carolRoom);
      await sink.waitFor('membership', (e) => e.room.roomId === carolRoom && e.membership === 'leave');
      await alice.invite(carolRoom, bob.userId);
      await sink.waitFor('membership', (e) => e.room.roomId === carolRoom && e.membership === 'invite');
      await bob.join(carolRoom);
      await alice.kick(carolRoom, bob.userId, 'testing');
      const kick = await sink.waitFor('membership', (e) => e.room.roomId === carolRoom && e.membership === 'kick');
      expect(kick).toMatchObject({ by: { userId: alice.userId }, reason: 'testing' });
    });

    it('joins and removes ghosts, sets their roles and profiles, and reads the room back', async () => {
      // The bot needs rights to manage roles in this room.
      await alice.setState(roomId, 'm.room.power_levels', '', {
        ...(await alice.getState<Record<string, unknown>>(roomId, 'm.room.power_levels')),
        users: { [bridge.ids.botUserId]: 100 },
      });
      await bridge.setProfile(FOLLOWER_USER_2);
      await bridge.setMembership(room, FOLLOWER_USER_2, 'join');
      const ghost = ghostOf(FOLLOWER_USER_2);
      expect(await alice.joinedMembers(roomId)).toContain(ghost);
      const member = await alice.getState<{ displayname?: string }>(roomId, 'm.room.member', ghost);
      expect(member.displayname).toBe('Dave');
      await bridge.setRole(room, FOLLOWER_USER_2, ParticipantRole.Moderator);
      const pl = await alice.getState<{ users: Record<string, number> }>(roomId, 'm.room.power_levels');
      expect(pl.users[ghost]).toBe(50);
      const snapshot = await bridge.getRoomSnapshot(room);
      expect(snapshot.name).toBe('Bridged');
      expect(snapshot.members).toContainEqual({
        user: { userUri: FOLLOWER_USER_2.userUri },
        role: ParticipantRole.Moderator,
      });
      expect(snapshot.members).toContainEqual({
        user: { platform: Platform.Matrix, userId: alice.userId, displayName: 'alice' },
        role: ParticipantRole.Owner,
      });
      await bridge.setMembership(room, FOLLOWER_USER_2, 'leave');
      await bridge.setMembership(room, FOLLOWER_USER_2, 'leave');
      expect(await alice.joinedMembers(roomId)).not.toContain(ghost);
    });

    it('kicks a Matrix user on behalf of MIMI moderation', async () => {
      await bridge.moderate(room, { platform: Platform.Matrix, userId: bob.userId }, 'kick', 'MIMI moderator');
      const kicked = await alice.waitForEvent(
        (e) =>
          e.room_id === roomId &&
          e.type === 'm.room.member' &&
          e.state_key === bob.userId &&
          e.content['membership'] === 'leave',
      );
      expect(kicked.sender).toBe(bridge.ids.botUserId);
    });

    it('answers a failure notice as a reply', async () => {
      const msg = await alice.sendText(roomId, 'will fail remotely');
      await bridge.notifyFailure(room, { platformEventId: msg }, 'the hub refused this message');
      const notice = await alice.waitForEvent(noticeReplyTo(msg));
      expect(notice.content['body']).toBe('⚠️ the hub refused this message');
    });
  });

  describe('portal aliases (follower mode)', () => {
    it('creates the mirror room through BridgeHost.joinRemote when a user joins the portal alias', async () => {
      const remote = 'mimi://hub.example/r/general' as RoomUri;
      const alias = bridge.ids.portalAlias(remote)!;
      const joined = await bob.join(alias);
      expect(host.calls).toContainEqual({ op: 'joinRemote', roomUri: remote, by: bridge.ids.botUserId });
      expect(joined).toMatch(/^!/);
      // Asking again for the same MIMI room gives the same mirror room.
      expect(await bridge.createMirrorRoom(remote, { name: 'Again' })).toEqual({
        platform: Platform.Matrix,
        roomId: joined,
      });
    });
  });

  describe('the appservice endpoint', () => {
    const event = (id: string) => ({
      event_id: id,
      room_id: roomId,
      sender: alice.userId,
      type: 'm.room.message',
      origin_server_ts: Date.now(),
      content: { msgtype: 'm.text', body: `replayed ${id}` },
    });

    it('gives a replayed transaction no second effect', async () => {
      const id = `$replay-${Date.now()}`;
      const auth = { header: `Bearer ${reg.hs_token}` };
      expect((await putTransaction(asUrl(), 'replay-1', [event(id)], auth)).status).toBe(200);
      expect((await putTransaction(asUrl(), 'replay-1', [event(id)], auth)).status).toBe(200);
      expect(sink.deliveries.get(id)).toBe(1);
    });

    it('refuses a wrong hs_token with 403 M_FORBIDDEN, and a token only in the query with 401', async () => {
      const id = `$forbidden-${Date.now()}`;
      const wrong = await putTransaction(asUrl(), 'forbidden-1', [event(id)], { header: 'Bearer not-the-token' });
      expect(wrong).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
      const queryOnly = await putTransaction(asUrl(), 'forbidden-2', [event(id)], { query: reg.hs_token });
      expect(queryOnly.status).toBe(401);
      const mismatch = await putTransaction(asUrl(), 'forbidden-3', [event(id)], {
        header: `Bearer ${reg.hs_token}`,
        query: 'other',
      });
      expect(mismatch.status).toBe(403);
      expect(sink.deliveries.get(id)).toBeUndefined();
    });

    it('moves no link on a crafted tombstone from an unprivileged sender, or with a state_key (T42)', async () => {
      if (!host.linked.has(roomId)) await host.link(room, { platform: Platform.Matrix, userId: alice.userId });
      // A room the bot could join (public): the link would move there if the tombstone were believed.
      const target = await alice.createRoom({ name: 'Not a replacement', preset: 'public_chat' });
      const tombstone = (id: string, sender: string, stateKey: string) => ({
        event_id: id,
        room_id: roomId,
        sender,
        type: 'm.room.tombstone',
        state_key: stateKey,
        origin_server_ts: Date.now(),
        content: { body: 'This room has been replaced', replacement_room: target },
      });
      const stamp = Date.now();
      const marker = `$t42-after-${stamp}`;
      const res = await putTransaction(
        asUrl(),
        `t42-${stamp}`,
        [
          // bob has power level 0 here; a tombstone needs the room's state_default (50) or more.
          tombstone(`$t42-unprivileged-${stamp}`, bob.userId, ''),
          // alice may send tombstones, but a tombstone's state_key must be empty.
          tombstone(`$t42-state-key-${stamp}`, alice.userId, 'elsewhere'),
          event(marker),
        ],
        { header: `Bearer ${reg.hs_token}` },
      );
      expect(res.status).toBe(200);
      await sink.waitFor('message', (e) => e.platformEventId === marker);
      expect(host.calls.filter((c) => c.op === 'moveLink')).toEqual([]);
      expect(host.linked.has(roomId)).toBe(true);
      expect(host.linked.has(target)).toBe(false);
      expect(await alice.joinedMembers(target)).not.toContain(bridge.ids.botUserId);
    });

    it('skips a malformed event but records the rest of its transaction', async () => {
      const id = `$after-bad-${Date.now()}`;
      const res = await putTransaction(asUrl(), `bad-${Date.now()}`, [{ type: 'm.room.message' }, event(id)], {
        header: `Bearer ${reg.hs_token}`,
      });
      expect(res.status).toBe(200);
      expect(sink.deliveries.get(id)).toBe(1);
    });
  });

  describe('redelivery', () => {
    it('has Synapse resend a transaction whose events the sink could not record', async () => {
      sink.failNext(1);
      const ids = [await alice.sendText(roomId, 'r1'), await alice.sendText(roomId, 'r2')];
      for (const id of ids) await sink.waitFor('message', (e) => e.platformEventId === id, 60_000);
      expect(Math.max(...ids.map((id) => sink.deliveries.get(id)!))).toBeGreaterThanOrEqual(2);
    });

    it('loses nothing and doubles nothing when the bridge dies mid-transaction and comes back', async () => {
      const hung = sink.hangFromNow();
      const first = await alice.sendText(roomId, 'during crash 1');
      await hung;
      // The bridge dies with the transaction unacknowledged.
      await bridge.stop();
      sink.release();
      const second = await alice.sendText(roomId, 'during crash 2');
      bridge = await startBridge();
      host.mirror = (uri: RoomUri) => bridge.createMirrorRoom(uri, { name: 'Mirror' });
      for (const id of [first, second]) await sink.waitFor('message', (e) => e.platformEventId === id, 90_000);
      expect(sink.events.filter((e) => e.platformEventId === first)).toHaveLength(1);
      expect(sink.events.filter((e) => e.platformEventId === second)).toHaveLength(1);
    });
  });
});
