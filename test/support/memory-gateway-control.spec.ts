import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, GatewayError } from '../../src/common/errors';
import { Platform, type UserUri } from '../../src/common/ids';
import { InboundEvent, ParticipantRole } from '../../src/ports';
import { ControlClient, HttpError } from './e2e-clients';
import { startControlServer } from './memory-gateway-control';
import { DurableMemoryPlatform } from './memory-gateway-platform';

const DOMAIN = 'a.example';
const ROOM = '!club:a';
const ALICE = { userId: '@alice', displayName: 'Alice' };
const AMY = { userId: '@amy' };
const BOB_URI = 'mimi://b.example/u/bob';
const REFUSED_TEXT = 'the gateway refuses this one';
const BATCH = ['one', 'two', 'three', 'four'];

function textOf(e: InboundEvent): string | undefined {
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

async function httpError(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HttpError) return e;
    throw e;
  }
  throw new Error('expected an HTTP error');
}

describe('memory gateway control API', () => {
  let dir: string;
  let platform: DurableMemoryPlatform;
  let seen: InboundEvent[];
  let client: ControlClient;
  let close: () => Promise<void>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mimi-control-'));
    platform = new DurableMemoryPlatform(join(dir, 'platform.jsonl'));
    seen = [];
    await platform.start(async (e) => {
      if (textOf(e) === REFUSED_TEXT) throw new GatewayError(ErrorCode.NotAllowed, 'not a participant');
      seen.push(e);
    });
    const server = await startControlServer(platform, { domain: DOMAIN }, '127.0.0.1', 0);
    close = server.close;
    client = new ControlClient(server.url);
  });

  afterEach(async () => {
    await close();
    await platform.stop();
    platform.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports its domain and pid', async () => {
    expect(await client.health()).toMatchObject({ domain: DOMAIN, pid: process.pid });
  });

  describe('rooms', () => {
    it('creates a room with native members and lists it', async () => {
      const created = await client.createRoom(ROOM, {
        name: 'Club',
        members: [{ ...ALICE, role: ParticipantRole.Owner }, AMY],
      });
      expect(created.members.map((m) => [m.id, m.role])).toEqual([
        [ALICE.userId, ParticipantRole.Owner],
        [AMY.userId, ParticipantRole.Member],
      ]);
      expect((await client.rooms()).map((r) => r.roomId)).toEqual([ROOM]);
      expect(await client.room(ROOM)).toMatchObject({ roomId: ROOM, name: 'Club', timelineLength: 0 });
    });

    it('answers 409 for a room that exists and 404 for one that does not', async () => {
      await client.createRoom(ROOM);
      expect(await httpError(client.createRoom(ROOM))).toMatchObject({ status: 409, errcode: ErrorCode.Conflict });
      expect(await httpError(client.room('!none'))).toMatchObject({ status: 404, errcode: ErrorCode.NotFound });
    });

    it("keeps a room's join rule (invite unless opened) across a restart of the platform", async () => {
      await client.createRoom(ROOM, { joinRule: 'public' });
      await client.createRoom('!private:a');
      expect(await client.room(ROOM)).toMatchObject({ joinRule: 'public' });
      expect(await client.room('!private:a')).toMatchObject({ joinRule: 'invite' });
      const again = new DurableMemoryPlatform(join(dir, 'platform.jsonl'));
      try {
        await expect(again.joinRule({ platform: Platform.Memory, roomId: ROOM })).resolves.toBe('public');
        await expect(again.joinRule({ platform: Platform.Memory, roomId: '!private:a' })).resolves.toBe('invite');
      } finally {
        again.close();
      }
      expect(await httpError(client.createRoom('!odd:a', { joinRule: 'knock' as 'public' }))).toMatchObject({
        status: 400,
        errcode: ErrorCode.BadValue,
      });
    });

    it('passes a portal join to the gateway and shows the mirror it made', async () => {
      const asked: [string, string][] = [];
      await platform.start(async () => undefined, {
        joinRemote: async (roomUri, by) => {
          asked.push([roomUri, by.userId]);
          return platform.createMirrorRoom(roomUri, {});
        },
        link: () => Promise.reject(new Error('not used')),
        unlink: () => Promise.reject(new Error('not used')),
        status: () => Promise.resolve(undefined),
      });
      const mirror = await client.joinRemote('mimi://b.example/r/town', ALICE);
      expect(mirror).toMatchObject({ roomId: 'mirror:mimi://b.example/r/town', members: [] });
      expect(asked).toEqual([['mimi://b.example/r/town', ALICE.userId]]);
      expect(await httpError(client.joinRemote('', ALICE))).toMatchObject({ status: 400, errcode: ErrorCode.BadValue });
    });

    it('shows rooms the gateway created through the platform (mirror rooms)', async () => {
      platform.rooms.set('mirror:x', { roomId: 'mirror:x', members: new Map(), timeline: [] });
      expect((await client.rooms()).map((r) => r.roomId)).toEqual(['mirror:x']);
    });
  });

  describe('messages', () => {
    beforeEach(() => client.createRoom(ROOM));

    it('emits a native post to the gateway and shows it in the timeline', async () => {
      const r = await client.say(ROOM, ALICE, 'hello');
      expect(seen.map(textOf)).toEqual(['hello']);
      expect(seen[0]).toMatchObject({ platformEventId: r.platformEventId, sender: { ...ALICE, platform: 'memory' } });
      const timeline = await client.timeline(ROOM);
      expect(timeline).toHaveLength(1);
      expect(timeline[0]).toMatchObject({ index: 0, recordedAt: r.recordedAt });
      expect(timeline[0]!.ackedAt).toBeGreaterThanOrEqual(r.recordedAt);
    });

    it('passes replies, edits, reactions and deletes through unchanged', async () => {
      const first = await client.say(ROOM, ALICE, 'hello');
      const target = { platformEventId: first.platformEventId };
      await client.send(ROOM, AMY, { type: 'post', body: { kind: 'text', text: 're' }, inReplyTo: target });
      await client.send(ROOM, ALICE, { type: 'edit', target, body: { kind: 'text', text: 'hello!' } });
      await client.send(ROOM, AMY, { type: 'react', target, key: '👍' });
      await client.send(ROOM, ALICE, { type: 'delete', target });
      expect(seen.map((e) => (e.kind === 'message' ? e.action : undefined))).toEqual([
        { type: 'post', body: { kind: 'text', text: 'hello' } },
        { type: 'post', body: { kind: 'text', text: 're' }, inReplyTo: target },
        { type: 'edit', target, body: { kind: 'text', text: 'hello!' } },
        { type: 'react', target, key: '👍' },
        { type: 'delete', target },
      ]);
    });

    it('emits a batch in order, each acknowledged', async () => {
      const results = await client.sayMany(ROOM, ALICE, BATCH);
      expect(seen.map(textOf)).toEqual(BATCH);
      expect(results.map((r) => r.platformEventId)).toEqual(seen.map((e) => e.platformEventId));
      expect((await client.timeline(ROOM, 2)).map((t) => t.index)).toEqual([2, 3]);
    });

    it("answers with the gateway's error when it refuses an event, and lists it as unacknowledged", async () => {
      const err = await httpError(client.say(ROOM, ALICE, REFUSED_TEXT));
      expect(err).toMatchObject({ status: 403, errcode: ErrorCode.NotAllowed });
      expect((await client.unacknowledged()).map(textOf)).toEqual([REFUSED_TEXT]);
    });

    it('rejects malformed actions with 400', async () => {
      const err = await httpError(
        client.http.call('POST', `/rooms/${encodeURIComponent(ROOM)}/messages`, {
          sender: ALICE,
          action: { type: 'shout' },
        }),
      );
      expect(err).toMatchObject({ status: 400, errcode: ErrorCode.BadValue });
      expect(seen).toEqual([]);
    });
  });

  describe('membership and roles', () => {
    beforeEach(() => client.createRoom(ROOM, { members: [{ ...ALICE, role: ParticipantRole.Owner }] }));

    it('emits an invite of a MIMI user by a native user', async () => {
      const r = await client.membership(ROOM, { userUri: BOB_URI }, 'invite', { by: ALICE });
      expect(seen).toEqual([
        expect.objectContaining({
          kind: 'membership',
          platformEventId: r.platformEventId,
          user: { userUri: BOB_URI },
          membership: 'invite',
          by: { ...ALICE, platform: Platform.Memory },
        }),
      ]);
    });

    it('applies a kick and a role change to the member list', async () => {
      await client.membership(ROOM, AMY, 'join');
      await client.role(ROOM, AMY, ParticipantRole.Moderator, { by: ALICE });
      expect((await client.room(ROOM)).members.map((m) => [m.id, m.role])).toEqual([
        [ALICE.userId, ParticipantRole.Owner],
        [AMY.userId, ParticipantRole.Moderator],
      ]);
      await client.membership(ROOM, AMY, 'kick', { by: ALICE, reason: 'spam' });
      expect((await client.room(ROOM)).members.map((m) => m.id)).toEqual([ALICE.userId]);
      expect(seen.map((e) => e.kind)).toEqual(['membership', 'role', 'membership']);
    });

    it('logs member changes with their times, ghost joins by the gateway included', async () => {
      const before = performance.timeOrigin + performance.now();
      const joined = await client.membership(ROOM, AMY, 'join');
      expect(joined.recordedAt).toBeGreaterThanOrEqual(before);
      await platform.setMembership(
        { platform: Platform.Memory, roomId: ROOM },
        { userUri: BOB_URI as UserUri },
        'join',
      );
      await client.membership(ROOM, AMY, 'leave');
      const log = await client.memberLog(ROOM);
      expect(log.map((c) => [c.index, c.id, c.change])).toEqual([
        [0, AMY.userId, 'join'],
        [1, `ghost:${BOB_URI}`, 'join'],
        [2, AMY.userId, 'leave'],
      ]);
      expect(log[1]!.user).toEqual({ userUri: BOB_URI });
      expect(log[0]!.at).toBeGreaterThanOrEqual(joined.recordedAt);
      expect(log[2]!.at).toBeGreaterThanOrEqual(log[1]!.at);
      expect((await client.memberLog(ROOM, 2)).map((c) => c.index)).toEqual([2]);
      expect(await httpError(client.memberLog('!nowhere'))).toMatchObject({ status: 404 });
    });

    it('rejects an unknown membership or role with 400', async () => {
      const bad = await httpError(
        client.http.call('POST', `/rooms/${encodeURIComponent(ROOM)}/membership`, { user: AMY, membership: 'eat' }),
      );
      expect(bad).toMatchObject({ status: 400, errcode: ErrorCode.BadValue });
      const badRole = await httpError(
        client.http.call('POST', `/rooms/${encodeURIComponent(ROOM)}/role`, { user: AMY, role: 'king' }),
      );
      expect(badRole).toMatchObject({ status: 400, errcode: ErrorCode.BadValue });
    });
  });

  it('sets failure knobs and lists notices', async () => {
    expect(await client.knobs({ postDelayMs: 5, failWith: { code: ErrorCode.PlatformUnavailable } })).toEqual({
      postDelayMs: 5,
      echoDelayMs: 0,
      failWith: ErrorCode.PlatformUnavailable,
    });
    expect(platform.failWith?.code).toBe(ErrorCode.PlatformUnavailable);
    await client.knobs({ failWith: null });
    expect(platform.failWith).toBeUndefined();
    await platform.notifyFailure({ platform: Platform.Memory, roomId: ROOM }, { platformEventId: '$x' }, 'refused');
    expect(await client.notices()).toEqual([{ room: ROOM, about: '$x', text: 'refused' }]);
  });

  it('answers 404 with an errcode for unknown routes', async () => {
    expect(await httpError(client.http.call('GET', '/nope'))).toMatchObject({
      status: 404,
      errcode: ErrorCode.NotFound,
    });
  });
});
