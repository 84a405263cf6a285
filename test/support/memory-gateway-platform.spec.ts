import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, GatewayError, PlatformError } from '../../src/common/errors';
import { Platform, UserUri } from '../../src/common/ids';
import { InboundEvent, MessageAction, ParticipantRole } from '../../src/ports';
import { MemoryPlatform } from '../fakes/memory-platform';
import { DurableMemoryPlatform } from './memory-gateway-platform';
import { waitFor } from './e2e-wait';

const ROOM = '!club';
const MIRROR_ROOM = 'mirror:mimi://a.example/r/club';
const ROOM_REF = { platform: Platform.Memory, roomId: ROOM };
const ALICE = { platform: Platform.Memory, userId: '@alice', displayName: 'Alice' };
const AMY = { platform: Platform.Memory, userId: '@amy' };
const BOB_REMOTE = { userUri: 'mimi://b.example/u/bob' as UserUri, displayName: 'Bob' };
const HELLO: MessageAction = { type: 'post', body: { kind: 'text', text: 'hello' } };
const AGAIN: MessageAction = { type: 'post', body: { kind: 'text', text: 'again' } };
const POST_OPTS = { idempotencyKey: 'mimi-msg-1', timeoutMs: 1000 };
const SHORT_WAIT = { timeoutMs: 2000, intervalMs: 5 };

function texts(events: readonly InboundEvent[]): string[] {
  return events.map((e) => (e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : e.kind));
}

describe(DurableMemoryPlatform.name, () => {
  let dir: string;
  let journal: string;
  const open: DurableMemoryPlatform[] = [];

  function platform(): DurableMemoryPlatform {
    const p = new DurableMemoryPlatform(journal);
    open.push(p);
    return p;
  }

  async function started(p: DurableMemoryPlatform, seen: InboundEvent[] = []): Promise<InboundEvent[]> {
    await p.start(async (e) => void seen.push(e));
    return seen;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mimi-durable-platform-'));
    journal = join(dir, 'platform.jsonl');
  });

  afterEach(async () => {
    for (const p of open.splice(0)) {
      await p.stop();
      p.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  describe('replay', () => {
    it('restores rooms, members, roles and timelines written by an earlier instance', async () => {
      const first = platform();
      await started(first);
      first.createRoom(ROOM, 'Club');
      first.seedMembers(ROOM, [{ user: ALICE, role: ParticipantRole.Owner }]);
      await first.emitLocal(ROOM, ALICE, HELLO);
      await first.emitEvent({
        kind: 'membership',
        room: ROOM_REF,
        platformEventId: '$join-amy',
        user: AMY,
        membership: 'join',
        timestamp: 1,
      });
      await first.setRole(ROOM_REF, BOB_REMOTE, ParticipantRole.Moderator);
      first.close();

      const second = platform();
      expect(second.rooms.get(ROOM)?.name).toBe('Club');
      expect(second.members(ROOM)).toEqual([
        { id: ALICE.userId, user: ALICE, role: ParticipantRole.Owner },
        { id: AMY.userId, user: AMY, role: ParticipantRole.Member },
        { id: second.ghostId(BOB_REMOTE), user: BOB_REMOTE, role: ParticipantRole.Moderator },
      ]);
      expect(texts(second.timeline(ROOM).map((t) => t.event))).toEqual(['hello', 'membership']);
      expect(second.unacknowledged()).toEqual([]);
    });

    it('journals a member change as one line naming that member only, and replays joins and leaves', async () => {
      const first = platform();
      await started(first);
      first.createRoom(ROOM, 'Club');
      first.seedMembers(ROOM, [{ user: ALICE, role: ParticipantRole.Owner }]);
      const ghosts = Array.from({ length: 20 }, (_, i) => ({ userUri: `mimi://b.example/u/g${i}` as UserUri }));
      for (const g of ghosts) await first.setMembership(ROOM_REF, g, 'join');
      await first.setMembership(ROOM_REF, ghosts[3]!, 'leave');
      await first.moderate(ROOM_REF, ghosts[4]!, 'ban');
      first.close();

      const lines = readFileSync(journal, 'utf8').trim().split('\n');
      const last = JSON.parse(lines[lines.length - 3]!) as Record<string, unknown>;
      expect(last).toEqual({
        op: 'member',
        roomId: ROOM,
        id: first.ghostId(ghosts[19]!),
        member: { id: first.ghostId(ghosts[19]!), user: ghosts[19], role: ParticipantRole.Member },
      });
      expect(JSON.parse(lines[lines.length - 2]!)).toEqual({
        op: 'member',
        roomId: ROOM,
        id: first.ghostId(ghosts[3]!),
      });

      const second = platform();
      const ids = second.members(ROOM).map((m) => [m.id, m.role]);
      expect(ids).toHaveLength(20);
      expect(ids).not.toContainEqual([second.ghostId(ghosts[3]!), expect.anything()]);
      expect(ids).toContainEqual([second.ghostId(ghosts[4]!), ParticipantRole.Banned]);
      expect(ids[0]).toEqual([ALICE.userId, ParticipantRole.Owner]);
    });

    it('journals rooms the base class created (mirror rooms) with what was posted in them', async () => {
      const first = platform();
      await started(first);
      MemoryPlatform.prototype.createRoom.call(first, MIRROR_ROOM, 'Mirror');
      await first.post({ platform: Platform.Memory, roomId: MIRROR_ROOM }, BOB_REMOTE, HELLO, POST_OPTS);
      first.close();

      const second = platform();
      expect(second.rooms.get(MIRROR_ROOM)?.name).toBe('Mirror');
      expect(texts(second.timeline(MIRROR_ROOM).map((t) => t.event))).toEqual(['hello']);
    });

    it('keeps the failures told to users', async () => {
      const first = platform();
      first.createRoom(ROOM);
      await first.notifyFailure(ROOM_REF, { platformEventId: '$refused' }, 'the hub refused your message');
      first.close();

      expect(platform().notices).toEqual([{ room: ROOM, about: '$refused', text: 'the hub refused your message' }]);
    });

    it('ignores a torn last line (the process died mid-write)', async () => {
      const first = platform();
      await started(first);
      first.createRoom(ROOM);
      await first.emitLocal(ROOM, ALICE, HELLO);
      first.close();
      appendFileSync(journal, '{"op":"event","ev');

      const second = platform();
      expect(texts(second.timeline(ROOM).map((t) => t.event))).toEqual(['hello']);
    });

    it('refuses a journal corrupted before its last line', () => {
      appendFileSync(journal, 'not json\n{"op":"room","roomId":"!x"}\n{"op":"room","roomId":"!y"}\n');
      expect(() => platform()).toThrow(/unreadable journal record/);
    });
  });

  describe('delivery', () => {
    it('redelivers events the gateway never acknowledged, in order, when the next instance starts', async () => {
      const first = platform();
      first.createRoom(ROOM);
      let refuse = true;
      const acked: InboundEvent[] = [];
      await first.start(async (e) => {
        if (refuse && e.kind === 'message' && e.action.type === 'post' && e.action.body.text === 'again') {
          throw new GatewayError(ErrorCode.Internal, 'database busy');
        }
        acked.push(e);
      });
      await first.emitLocal(ROOM, ALICE, HELLO);
      await expect(first.emitLocal(ROOM, ALICE, AGAIN)).rejects.toThrow('database busy');
      expect(texts(first.unacknowledged())).toEqual(['again']);
      first.close();
      refuse = false;

      const second = platform();
      const seen = await started(second);
      await second.redeliveryDone();
      expect(texts(seen)).toEqual(['again']);
      expect(second.unacknowledged()).toEqual([]);
      expect(texts(acked)).toEqual(['hello']);
    });

    it('delivers an event the gateway refused for a passing reason again by itself, without a restart', async () => {
      const p = platform();
      p.createRoom(ROOM);
      let refuse = true;
      const acked: InboundEvent[] = [];
      await p.start(async (e) => {
        if (refuse) throw new Error('the database system is shutting down');
        acked.push(e);
      });
      await expect(p.emitLocal(ROOM, ALICE, HELLO)).rejects.toThrow('shutting down');
      await expect(p.emitLocal(ROOM, ALICE, AGAIN)).rejects.toThrow('shutting down');
      refuse = false;
      await waitFor(() => p.unacknowledged().length === 0, { timeoutMs: 10_000, intervalMs: 20 });
      expect(texts(acked)).toEqual(['hello', 'again']);
    });

    it('leaves an event refused for good to the next instance', async () => {
      const p = platform();
      p.createRoom(ROOM);
      const seen: InboundEvent[] = [];
      await p.start(async (e) => {
        seen.push(e);
        throw new GatewayError(ErrorCode.BadValue, 'never');
      });
      await expect(p.emitLocal(ROOM, ALICE, HELLO)).rejects.toThrow('never');
      await new Promise((r) => setTimeout(r, 1500));
      expect(seen).toHaveLength(1);
      expect(texts(p.unacknowledged())).toEqual(['hello']);
    });

    it('records an event emitted before the gateway started and delivers it once it does', async () => {
      const p = platform();
      p.createRoom(ROOM);
      await expect(p.emitLocal(ROOM, ALICE, HELLO)).rejects.toMatchObject({ code: ErrorCode.PlatformUnavailable });
      p.close();

      const next = platform();
      const seen = await started(next);
      await next.redeliveryDone();
      expect(texts(seen)).toEqual(['hello']);
    });

    it('queues new events behind the redelivery so the gateway sees timeline order', async () => {
      const first = platform();
      first.createRoom(ROOM);
      await expect(first.emitLocal(ROOM, ALICE, HELLO)).rejects.toBeInstanceOf(PlatformError);
      first.close();

      const second = platform();
      const seen = await started(second);
      await second.emitLocal(ROOM, ALICE, AGAIN);
      expect(texts(seen)).toEqual(['hello', 'again']);
    });

    it('acknowledges the echo of a post once the gateway took it', async () => {
      const p = platform();
      p.createRoom(ROOM);
      const seen = await started(p);
      const result = await p.post(ROOM_REF, BOB_REMOTE, HELLO, POST_OPTS);
      await waitFor(() => seen.find((e) => e.platformEventId === result.platformEventId), SHORT_WAIT);
      await waitFor(() => p.entry(result.platformEventId)?.ackedAt !== undefined, SHORT_WAIT);
      expect(p.unacknowledged()).toEqual([]);
    });

    it('refuses a second event with the same platform ID', async () => {
      const p = platform();
      p.createRoom(ROOM);
      await started(p);
      await p.emitLocal(ROOM, ALICE, HELLO, '$same');
      await expect(p.emitLocal(ROOM, ALICE, AGAIN, '$same')).rejects.toMatchObject({ code: ErrorCode.Conflict });
    });

    it('delivers an event the gateway refused again when it is sent again with its ID, once in the timeline', async () => {
      const p = platform();
      p.createRoom(ROOM);
      const seen: InboundEvent[] = [];
      let refuse = true;
      await p.start(async (e) => {
        seen.push(e);
        if (refuse) throw new GatewayError(ErrorCode.RoomElsewhere, 'served elsewhere', { retryable: true });
      });
      await expect(p.emitLocal(ROOM, ALICE, HELLO, '$retry')).rejects.toMatchObject({ code: ErrorCode.RoomElsewhere });
      refuse = false;

      await p.emitLocal(ROOM, ALICE, HELLO, '$retry');

      expect(texts(seen)).toEqual(['hello', 'hello']);
      expect(p.timeline(ROOM).map((t) => t.event.platformEventId)).toEqual(['$retry']);
      expect(p.unacknowledged()).toEqual([]);
    });

    it('refuses events for a room that does not exist', async () => {
      const p = platform();
      await started(p);
      await expect(p.emitLocal('!nowhere', ALICE, HELLO)).rejects.toMatchObject({ code: ErrorCode.NotFound });
    });
  });

  describe('post', () => {
    it('is idempotent on the key across instances', async () => {
      const first = platform();
      first.createRoom(ROOM);
      await started(first);
      const a = await first.post(ROOM_REF, BOB_REMOTE, HELLO, POST_OPTS);
      first.close();

      const second = platform();
      await started(second);
      const b = await second.post(ROOM_REF, BOB_REMOTE, HELLO, POST_OPTS);
      expect(b).toEqual(a);
      expect(second.timeline(ROOM)).toHaveLength(1);
    });
  });

  describe('membership and role events', () => {
    it('apply to the member list as the platform would', async () => {
      const p = platform();
      p.createRoom(ROOM);
      await started(p);
      const event = (platformEventId: string, membership: 'join' | 'kick' | 'ban' | 'invite'): InboundEvent => ({
        kind: 'membership',
        room: ROOM_REF,
        platformEventId,
        user: AMY,
        membership,
        by: ALICE,
        timestamp: 1,
      });
      await p.emitEvent(event('$1', 'join'));
      expect(p.members(ROOM).map((m) => [m.id, m.role])).toEqual([[AMY.userId, ParticipantRole.Member]]);
      await p.emitEvent({
        kind: 'role',
        room: ROOM_REF,
        platformEventId: '$2',
        user: AMY,
        role: ParticipantRole.Moderator,
        timestamp: 2,
      });
      expect(p.members(ROOM).map((m) => [m.id, m.role])).toEqual([[AMY.userId, ParticipantRole.Moderator]]);
      await p.emitEvent(event('$3', 'kick'));
      expect(p.members(ROOM)).toEqual([]);
      await p.emitEvent(event('$4', 'invite'));
      expect(p.members(ROOM)).toEqual([]);
      await p.emitEvent(event('$5', 'ban'));
      expect(p.members(ROOM).map((m) => [m.id, m.role])).toEqual([[AMY.userId, ParticipantRole.Banned]]);
    });
  });

  it('writes one JSON record per line', async () => {
    const p = platform();
    p.createRoom(ROOM);
    await started(p);
    await p.emitLocal(ROOM, ALICE, HELLO);
    const ops = readFileSync(journal, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { op: string }).op);
    expect(ops).toEqual(['room', 'event', 'ack']);
  });
});
