/**
 * Scale-out on PostgreSQL (issue 12 item 3): provider A runs as two gateway processes on one
 * database, B as one. Twenty rooms linked on A (ten by each process) and followed by B get
 * traffic; a1 is SIGKILLed in the middle. Its rooms move to a2 once their leases expire, and
 * every message is stored once, in order, by A (the hub's log) and by B (stored and shown in
 * B's mirror rooms). Needs `npx nest build` first.
 */
import { randomUUID } from 'node:crypto';
import type { UserUri } from '../../src/common/ids';
import type { InboundEvent } from '../../src/ports';
import { ParticipantRole } from '../../src/ports';
import { legacyUserUri } from '../../src/rooms/identity';
import type { NativeUser, StoredRoomEvent } from '../support/e2e-clients';
import { MEMORY_PLATFORM } from '../support/e2e-gateways';
import { B, ScaleOutCluster } from '../support/e2e-scaleout';
import { waitFor, waitForValue } from '../support/e2e-wait';

const RUN = randomUUID().slice(0, 8);
const ROOMS = 20;
const MESSAGES_PER_ROOM = 12;
const KILL_AFTER = 80;
const LEASE_TTL_MS = 3_000;
const BOB: NativeUser = { userId: '@bob:b.example', displayName: 'Bob' };
const BOB_URI = legacyUserUri(B, MEMORY_PLATFORM, BOB.userId) as UserUri;

interface Room {
  readonly index: number;
  readonly roomId: string;
  readonly user: NativeUser;
  readonly linkedBy: 'a1' | 'a2';
  roomUri: string;
  mirror: string;
  readonly texts: string[];
}

function storedTexts(events: readonly StoredRoomEvent[]): string[] {
  return events.filter((e) => e.kind === 'text').map((e) => String(e.content?.text));
}

function postText(e: InboundEvent): string | undefined {
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

describe('scale-out: two gateway processes on one PostgreSQL, one SIGKILLed under traffic', () => {
  let s: ScaleOutCluster | undefined;
  const rooms: Room[] = Array.from({ length: ROOMS }, (_, i) => ({
    index: i,
    roomId: `!scale-${i}-${RUN}:a`,
    // One native user per room: rooms of different communities.
    user: { userId: `@user${i}:a.example`, displayName: `User ${i}` },
    linkedBy: i < ROOMS / 2 ? 'a1' : 'a2',
    roomUri: '',
    mirror: '',
    texts: Array.from({ length: MESSAGES_PER_ROOM }, (_, m) => `room ${i} message ${m} ${RUN}`),
  }));

  beforeAll(async () => {
    s = await ScaleOutCluster.create({
      leaseTtlMs: LEASE_TTL_MS,
      outbox: { requestTimeoutMs: 3_000, initialBackoffMs: 100, maxBackoffMs: 500 },
    });
    // a1 first: it creates the provider's MLS identities (gateway bot, external sender) that a2 then loads.
    await s.cluster.startAll();
  });

  afterAll(() => s?.dispose());

  const scenario = (body: (c: ScaleOutCluster) => Promise<void>) => async (): Promise<void> => {
    if (!s) throw new Error('the cluster was not created (see the beforeAll error)');
    try {
      await body(s);
    } catch (e) {
      if (e instanceof Error) e.message = `${e.message}\n${s.logTails()}`;
      throw e;
    }
  };

  it(
    'links twenty rooms, ten on each process, each owned by the process that linked it; B follows all',
    scenario(async (c) => {
      await c.createRoom(rooms[0]!.roomId, [{ ...rooms[0]!.user, role: ParticipantRole.Owner }]);
      rooms[0]!.roomUri = await c.a1.provisioning.linkRoom(MEMORY_PLATFORM, rooms[0]!.roomId);
      await c.a2.start();
      await c.a2.control.createRoom(rooms[0]!.roomId, {
        members: [{ ...rooms[0]!.user, role: ParticipantRole.Owner }],
      });
      for (const room of rooms) {
        if (room.index > 0) await c.createRoom(room.roomId, [{ ...room.user, role: ParticipantRole.Owner }]);
      }
      for (const room of rooms.slice(1)) {
        room.roomUri = await c.process(room.linkedBy).provisioning.linkRoom(MEMORY_PLATFORM, room.roomId);
      }
      const leases = await c.leases();
      expect(leases.map((l) => [l.roomUri, l.owner]).sort()).toEqual(rooms.map((r) => [r.roomUri, r.linkedBy]).sort());

      for (const room of rooms) {
        await c
          .process(room.linkedBy)
          .control.membership(room.roomId, { userUri: BOB_URI }, 'invite', { by: room.user });
      }
      for (const room of rooms) {
        const mirror = await waitFor(
          async () => (await c.b!.control.rooms()).find((r) => r.roomId === `mirror:${room.roomUri}`),
          { what: `B's mirror of ${room.roomUri}`, timeoutMs: 60_000 },
        );
        room.mirror = mirror.roomId;
      }
    }),
    180_000,
  );

  it(
    'moves the rooms of the killed process to the other; every message arrives once and in order everywhere',
    scenario(async (c) => {
      let posted = 0;
      let killed: Promise<void> | undefined;
      const leasesBefore = await c.leases();
      await Promise.all(
        rooms.map(async (room) => {
          for (const [m, text] of room.texts.entries()) {
            // Every other message reaches the process that does not own the room first (a load balancer).
            const first = m % 2 === 0 ? room.linkedBy : room.linkedBy === 'a1' ? 'a2' : 'a1';
            await c.post(first, room.roomId, room.user, text, `$scale-${RUN}-${room.index}-${m}`);
            posted += 1;
            if (posted === KILL_AFTER) killed = c.killA1();
          }
        }),
      );
      await killed;
      // The process that did not own a room refused its events (and the owner took them).
      expect(c.refusals).toBeGreaterThan(0);
      expect(c.a1.lastExit).toEqual({ code: null, signal: 'SIGKILL' });

      // The hub's log (A, read from the shared database by a2) and B's: each message once, in order.
      for (const room of rooms) {
        const onA = storedTexts(await c.a2.provisioning.events(room.roomUri));
        expect(onA).toEqual(room.texts);
        const onB = await waitForValue(
          async () => storedTexts(await c.b!.provisioning.events(room.roomUri)),
          (t) => t.length >= room.texts.length,
          { what: `B storing room ${room.index}`, timeoutMs: 60_000 },
        );
        expect(onB).toEqual(room.texts);
        const shownOnB = await waitForValue(
          async () => (await c.b!.control.timeline(room.mirror)).flatMap((t) => postText(t.event) ?? []),
          (t) => t.length >= room.texts.length,
          { what: `B showing room ${room.index}`, timeoutMs: 60_000 },
        );
        expect(shownOnB).toEqual(room.texts);
      }

      // Every room is a2's now; a1's rooms changed hands (a higher fencing epoch).
      const after = await c.leases();
      expect(after.map((l) => l.owner)).toEqual(after.map(() => 'a2'));
      const epochBefore = new Map(leasesBefore.map((l) => [l.roomUri, l.epoch]));
      // (a2's own rooms keep theirs unless a renewal came late on this busy machine and a2 took
      // its lapsed lease again, which also raises it.)
      for (const l of after) {
        const moved = rooms.find((r) => r.roomUri === l.roomUri)!.linkedBy === 'a1';
        if (moved) expect(l.epoch).toBeGreaterThan(epochBefore.get(l.roomUri)!);
        else expect(l.epoch).toBeGreaterThanOrEqual(epochBefore.get(l.roomUri)!);
      }
      // Messages of a1's rooms were taken by both processes: some before the kill, the rest after.
      const movedRoom = rooms[0]!;
      const takers = movedRoom.texts.map((_, m) => c.takenBy.get(`$scale-${RUN}-0-${m}`));
      expect(takers).toContain('a1');
      expect(takers).toContain('a2');
      // What a2's platform still holds unacknowledged is what a2 refused and a1 then took.
      const leftOnA2 = (await c.a2.control.unacknowledged()).map((e) => c.takenBy.get(e.platformEventId));
      expect(leftOnA2.filter((taker) => taker !== 'a1')).toEqual([]);
    }),
    240_000,
  );
});
