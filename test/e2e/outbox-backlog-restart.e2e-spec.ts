/**
 * T14 (docs/RELIABILITY.md): a restart with a pending outbox. Hub A (a memory gateway process)
 * has 20 rooms followed by B and C (processes too). With both followers down, 25 messages are
 * posted in each room: a controlled backlog of 500 pending message rows per follower across 20
 * rooms (counted in A's database; with them, one commit per room the hub made meanwhile). A is killed with SIGKILL, restarted, and the
 * followers come back. Checked: each follower stores and shows every message once, each room in
 * the hub's order; afterwards A's database holds no pending row and no stream still leased or
 * counted as pending. Needs `npx nest build` first.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { GatewayCluster, type GatewayProcess, withClusterLogs } from '../support/e2e-gateways';
import { waitForValue } from '../support/e2e-wait';
import { linkWithFollowers, mirrorOf, notExactlyOnce, shownTexts, storedTexts, userOf } from './support/hub-followers';

const A = 'a.example';
const FOLLOWERS = ['b.example', 'c.example'];
const RUN = randomUUID().slice(0, 8);
const ROOMS = Array.from({ length: 20 }, (_v, i) => `!backlog-${i}-${RUN}:a`);
const PER_ROOM = 25;
const OWNER = userOf(A);
const textsOf = (room: number): string[] =>
  Array.from({ length: PER_ROOM }, (_v, i) => `backlog room ${room} message ${i} ${RUN}`);

interface OutboxState {
  readonly pendingByDestination: Record<string, { rows: number; rooms: number }>;
  /** Streams still leased, or counted as pending. */
  readonly busyStreams: { destination: string; room_uri: string; lease_owner: string | null; pending_count: number }[];
}

/** What A's database says about its outbox (read on a second connection; WAL lets it read while A runs). */
function outboxState(a: GatewayProcess): OutboxState {
  const db = new Database(a.databaseFile, { readonly: true, fileMustExist: true });
  try {
    const pending = db
      .prepare(
        `SELECT destination, COUNT(*) AS rows, COUNT(DISTINCT room_uri) AS rooms FROM outbox_entry
         WHERE status = 'pending' GROUP BY destination`,
      )
      .all() as { destination: string; rows: number; rooms: number }[];
    const busyStreams = db
      .prepare(
        `SELECT destination, room_uri, lease_owner, pending_count FROM outbox_stream
         WHERE lease_owner IS NOT NULL OR pending_count <> 0`,
      )
      .all() as OutboxState['busyStreams'];
    return {
      pendingByDestination: Object.fromEntries(pending.map((p) => [p.destination, { rows: p.rows, rooms: p.rooms }])),
      busyStreams,
    };
  } finally {
    db.close();
  }
}

describe('T14: a restart with 500 pending outbox rows per follower across 20 rooms', () => {
  let cluster: GatewayCluster | undefined;

  beforeAll(async () => {
    cluster = await GatewayCluster.create({ domains: [A, ...FOLLOWERS] });
    await cluster.startAll();
  }, 120_000);

  afterAll(() => cluster?.dispose());

  it(
    'drains the backlog after a SIGKILL in per-room order with no duplicates, and leaves no row pending or stream leased',
    withClusterLogs(
      () => cluster,
      async (c) => {
        const a = c.gateway(A);
        const followers = FOLLOWERS.map((d) => c.gateway(d));
        const roomUris: string[] = [];
        for (const room of ROOMS) roomUris.push(await linkWithFollowers(a, followers, room, OWNER));
        await waitForValue(
          async () => outboxState(a),
          (s) => Object.keys(s.pendingByDestination).length === 0,
          { what: "A's outbox empty after the set-up", timeoutMs: 60_000 },
        );

        for (const f of followers) await f.stop();
        for (const [i, room] of ROOMS.entries()) await a.control.sayMany(room, OWNER, textsOf(i), { inFlight: 5 });
        // The controlled backlog: for each follower, the 25 messages of each of the 20 rooms (500
        // rows), plus what else the hub sent in those rooms meanwhile (its own commits).
        const before = await waitForValue(
          async () => outboxState(a),
          (s) => FOLLOWERS.every((d) => (s.pendingByDestination[d]?.rows ?? 0) >= ROOMS.length * PER_ROOM),
          { what: 'the backlog in A’s outbox' },
        );
        for (const d of FOLLOWERS) {
          expect(before.pendingByDestination[d]!.rooms).toBe(ROOMS.length);
          expect(before.pendingByDestination[d]!.rows).toBeLessThanOrEqual(ROOMS.length * (PER_ROOM + 1));
        }
        process.stdout.write(`T14 backlog at the kill: ${JSON.stringify(before.pendingByDestination)}\n`);

        await a.kill();
        expect(a.lastExit).toEqual({ code: null, signal: 'SIGKILL' });
        await a.start();
        await Promise.all(followers.map((f) => f.start()));

        for (const f of followers) {
          for (const [i, roomUri] of roomUris.entries()) {
            const expected = textsOf(i);
            const stored = await waitForValue(
              async () => storedTexts(await f.provisioning.events(roomUri)),
              (texts) => texts.length >= expected.length,
              { what: `room ${i} on ${f.domain}`, timeoutMs: 120_000 },
            );
            expect(stored).toEqual(expected);
            const mirror = await mirrorOf(f, roomUri);
            const shown = await waitForValue(
              () => shownTexts(f, mirror),
              (texts) => texts.length >= expected.length,
              { what: `room ${i} shown on ${f.domain}` },
            );
            expect(notExactlyOnce(shown, expected)).toEqual({});
            expect(shown).toEqual(expected);
          }
        }
        // Nothing left in flight: no pending row, no stream leased or counted as pending.
        const after = await waitForValue(
          async () => outboxState(a),
          (s) => Object.keys(s.pendingByDestination).length === 0 && s.busyStreams.length === 0,
          { what: "A's outbox settled", timeoutMs: 30_000 },
        );
        expect(after).toEqual({ pendingByDestination: {}, busyStreams: [] });
      },
    ),
    600_000,
  );
});
