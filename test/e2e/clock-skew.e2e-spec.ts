/**
 * RELIABILITY T45, clock skew, with whole gateway processes whose clocks are off
 * (MIMI_TEST_CLOCK_OFFSET_MS, src/common/clock.ts): A the hub, B a follower, memory platforms.
 *
 * - A 10 minutes behind, B 10 minutes ahead: traffic both ways, sent concurrently; every message
 *   arrives once, both gateways store the room in the hub's sequence (gap-free, increasing), and
 *   B's users see it in that order, whatever the clocks say.
 * - A 10 minutes ahead, B 10 minutes behind: A's accepted timestamps are 20 minutes in B's
 *   future, past the 5 minutes content-08 §9.1 allows (src/rooms/fanout-timestamps.ts): B refuses
 *   the message (400 MIMI_BAD_VALUE), A parks it with the reason, B stores nothing of it.
 * - A an hour ahead, B on time: the same refusal for content dated an hour ahead.
 * Needs `npx nest build` first.
 */
import { randomUUID } from 'node:crypto';
import type { UserUri } from '../../src/common/ids';
import { CLOCK_OFFSET_ENV } from '../../src/common/clock';
import { ParticipantRole } from '../../src/ports';
import { legacyUserUri } from '../../src/rooms/identity';
import { type NativeUser, type StoredRoomEvent, readMetric } from '../support/e2e-clients';
import { GatewayCluster, type GatewayProcess, MEMORY_PLATFORM, withClusterLogs } from '../support/e2e-gateways';
import { waitFor, waitForValue } from '../support/e2e-wait';

const A = 'a.example';
const B = 'b.example';
const RUN = randomUUID().slice(0, 8);
const ROOM = `!skew-${RUN}:a`;
const ALICE: NativeUser = { userId: '@alice:a.example', displayName: 'Alice' };
const BOB: NativeUser = { userId: '@bob:b.example', displayName: 'Bob' };
const BOB_URI: UserUri = legacyUserUri(B, MEMORY_PLATFORM, BOB.userId);
const MINUTE = 60_000;

/** (Re)start `g` with its clock `offsetMs` off; the harness spawns inside start(), before any await. */
async function startSkewed(g: GatewayProcess, offsetMs: number): Promise<void> {
  if (g.running) await g.stop();
  const saved = process.env[CLOCK_OFFSET_ENV];
  process.env[CLOCK_OFFSET_ENV] = String(offsetMs);
  const started = g.start();
  if (saved === undefined) delete process.env[CLOCK_OFFSET_ENV];
  else process.env[CLOCK_OFFSET_ENV] = saved;
  await started;
}

function textOf(e: StoredRoomEvent): string | undefined {
  const t = e.content?.text;
  return typeof t === 'string' ? t : undefined;
}

function texts(events: readonly StoredRoomEvent[]): string[] {
  return events.flatMap((e) => textOf(e) ?? []);
}

describe('clock skew between gateway processes (T45)', () => {
  let cluster: GatewayCluster | undefined;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let roomUri: string;
  let mirror: string;

  beforeAll(async () => {
    cluster = await GatewayCluster.create({ domains: [A, B] });
    a = cluster.gateway(A);
    b = cluster.gateway(B);
    await startSkewed(a, -10 * MINUTE);
    await startSkewed(b, 10 * MINUTE);
    await a.control.createRoom(ROOM, { name: 'Skew', members: [{ ...ALICE, role: ParticipantRole.Owner }] });
    roomUri = await a.provisioning.linkRoom(MEMORY_PLATFORM, ROOM);
    await a.control.membership(ROOM, { userUri: BOB_URI }, 'invite', { by: ALICE });
    await waitForValue(
      () => b.provisioning.room(roomUri),
      (r) => r !== undefined && r.participants.some((p) => p.userUri === BOB_URI),
      { what: `B following ${roomUri}` },
    );
    mirror = await waitFor(
      async () => (await b.control.rooms()).find((r) => r.roomId === `mirror:${roomUri}`)?.roomId,
      { what: 'the mirror room on B' },
    );
  }, 240_000);

  afterAll(() => cluster?.dispose());

  const scenario = (body: () => Promise<void>) => withClusterLogs(() => cluster, body);
  const parked = (g: GatewayProcess) => readMetric(`http://127.0.0.1:${g.ports.admin}`, 'mimi_outbox_parked');

  it(
    'orders by the hub’s sequence, not the clocks, with the hub 10 min behind and the follower 10 min ahead (T45)',
    scenario(async () => {
      const fromA = Array.from({ length: 6 }, (_, i) => `A-${i} ${RUN}`);
      const fromB = Array.from({ length: 6 }, (_, i) => `B-${i} ${RUN}`);
      // Both sides at once, each sender in order.
      await Promise.all([
        (async () => {
          for (const t of fromA) await a.control.say(ROOM, ALICE, t);
        })(),
        (async () => {
          for (const t of fromB) await b.control.say(mirror, BOB, t);
        })(),
      ]);
      const all = [...fromA, ...fromB];
      const has = (events: StoredRoomEvent[]) => all.every((t) => texts(events).includes(t));
      const onA = await waitForValue(() => a.provisioning.events(roomUri), has, { what: 'everything on A' });
      const onB = await waitForValue(() => b.provisioning.events(roomUri), has, { what: 'everything on B' });

      // One gap-free, increasing hub sequence; B holds the same events at the same positions.
      const seqs = onA.map((e) => Number(e.seq));
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
      expect(onB.map((e) => [Number(e.seq), e.messageId])).toEqual(onA.map((e) => [Number(e.seq), e.messageId]));
      const hubOrder = texts(onA).filter((t) => all.includes(t));
      for (const t of all) expect(hubOrder.filter((x) => x === t)).toHaveLength(1);
      // Each sender's messages in the order sent; the two senders interleaved as the hub took them.
      expect(hubOrder.filter((t) => fromA.includes(t))).toEqual(fromA);
      expect(hubOrder.filter((t) => fromB.includes(t))).toEqual(fromB);
      // B's users see alice's messages in the hub's order (bob's own are on B's platform already,
      // as he sent them, and are not shown again).
      const shown = await waitForValue(
        async () =>
          (await b.control.timeline(mirror)).flatMap((t) =>
            t.event.kind === 'message' && t.event.action.type === 'post' ? [t.event.action.body.text] : [],
          ),
        (ts) => fromA.every((t) => ts.includes(t)),
        { what: "alice's messages on B's platform" },
      );
      expect(shown.filter((t) => fromA.includes(t))).toEqual(hubOrder.filter((t) => fromA.includes(t)));
      expect(shown.filter((t) => fromB.includes(t))).toEqual(fromB);
      expect(await parked(a)).toBe(0);
      expect(await parked(b)).toBe(0);
    }),
  );

  it(
    'refuses what a hub 10 min ahead sends a follower 10 min behind, parked with the reason, as §9.1 allows 5 min (T45)',
    scenario(async () => {
      await startSkewed(a, 10 * MINUTE);
      await startSkewed(b, -10 * MINUTE);
      const text = `from a hub 20 min in B's future ${RUN}`;
      await a.control.say(ROOM, ALICE, text);
      await waitFor(async () => ((await parked(a)) >= 1 ? true : undefined), { what: 'the message parked on A' });
      expect(texts(await a.provisioning.events(roomUri))).toContain(text);
      expect(texts(await b.provisioning.events(roomUri))).not.toContain(text);
      expect(a.logTail(400)).toMatch(/MIMI_BAD_VALUE|accepted timestamp is more than 5 minutes in the future/);
    }),
  );

  it(
    'discards content dated an hour ahead: a hub an hour ahead, B on time (T45)',
    scenario(async () => {
      const before = await parked(a);
      await startSkewed(a, 60 * MINUTE);
      await startSkewed(b, 0);
      const text = `from a hub an hour ahead ${RUN}`;
      await a.control.say(ROOM, ALICE, text);
      await waitFor(async () => ((await parked(a)) > before ? true : undefined), { what: 'the message parked on A' });
      expect(texts(await b.provisioning.events(roomUri))).not.toContain(text);
      const shown = (await b.control.timeline(mirror)).map((t) =>
        t.event.kind === 'message' && t.event.action.type === 'post' ? t.event.action.body.text : undefined,
      );
      expect(shown).not.toContain(text);
    }),
  );
});
