/**
 * T39 (docs/RELIABILITY.md): the database locked under a running gateway. Hub A and follower B are
 * memory gateway processes on SQLite; the test holds a write lock on one's database file from a
 * second connection (`BEGIN IMMEDIATE`, test/support/fault-db-lock.ts) while a peer sends to it
 * over mutual TLS, through a recording tap:
 * - B locked, A fans a message out: B's write waits its busy_timeout, then B answers 503
 *   `GW_DATABASE_BUSY` (before the fix: a 500 "Internal server error"); A's outbox backs off and sends the same bytes again; once the lock is
 *   released B stores and shows the message once;
 * - A locked, a user of B posts: A's write waits, A answers a 5xx, B's submission is retried,
 *   and once released the message is in A's log and on both platforms once.
 * Needs `npx nest build` first.
 */
import { randomUUID } from 'node:crypto';
import { SQLITE_BUSY_TIMEOUT_MS } from '../../src/persistence/create-data-source';
import { GatewayCluster, type GatewayProcess, withClusterLogs } from '../support/e2e-gateways';
import type { TappedExchange } from '../support/e2e-tap';
import { waitFor, waitForValue } from '../support/e2e-wait';
import { holdSqliteWriteLock } from '../support/fault-db-lock';
import { linkWithFollowers, mirrorOf, notExactlyOnce, shownTexts, storedTexts, userOf } from './support/hub-followers';

const A = 'a.example';
const B = 'b.example';
const RUN = randomUUID().slice(0, 8);
const ROOM = `!locked-${RUN}:a`;
const OWNER = userOf(A);
const TO_LOCKED_B = `to B while its database is locked ${RUN}`;
const FROM_B_TO_LOCKED_A = `from B while A's database is locked ${RUN}`;
/** The answer to a request whose write found the database locked (retryable; nothing internal). */
const BUSY = { status: 503, body: { errcode: 'GW_DATABASE_BUSY', error: 'The database is busy; try again later' } };
/** Long enough for two attempts to wait out the busy timeout. */
const HOLD_MS = 3 * SQLITE_BUSY_TIMEOUT_MS;

describe('T39: a database locked by another connection under a running gateway', () => {
  let cluster: GatewayCluster | undefined;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let roomUri: string;
  let mirror: string;

  beforeAll(async () => {
    cluster = await GatewayCluster.create({
      domains: [A, B],
      taps: [
        { from: A, to: B },
        { from: B, to: A },
      ],
    });
    await cluster.startAll();
    a = cluster.gateway(A);
    b = cluster.gateway(B);
    roomUri = await linkWithFollowers(a, [b], ROOM, OWNER);
    mirror = await mirrorOf(b, roomUri);
  }, 120_000);

  afterAll(() => cluster?.dispose());

  /** Exchanges on a tap from index `from` on, to endpoint `endpoint`. */
  const since = (x: TappedExchange[], from: number): TappedExchange[] => x.slice(from);

  it(
    "a follower's locked database: its /notify waits busy_timeout, answers a clean 5xx, the hub backs off and delivers once after the release",
    withClusterLogs(
      () => cluster,
      async (c) => {
        const tap = c.tap(A, B);
        const before = tap.recorded('notify').length;
        const lock = holdSqliteWriteLock(b.databaseFile);
        try {
          await a.control.say(ROOM, OWNER, TO_LOCKED_B);
          await waitFor(() => since(tap.recorded('notify'), before).filter((x) => x.status >= 500).length >= 2, {
            what: 'two refused deliveries to B',
            timeoutMs: HOLD_MS + 10_000,
          });
        } finally {
          await lock.release();
        }
        const stored = await waitForValue(
          async () => storedTexts(await b.provisioning.events(roomUri)),
          (t) => t.includes(TO_LOCKED_B),
          { what: 'the message stored on B' },
        );
        expect(notExactlyOnce(stored, [TO_LOCKED_B])).toEqual({});
        const shown = await waitForValue(
          () => shownTexts(b, mirror),
          (t) => t.includes(TO_LOCKED_B),
          { what: 'the message shown on B' },
        );
        expect(notExactlyOnce(shown, [TO_LOCKED_B])).toEqual({});

        const attempts = since(tap.recorded('notify'), before);
        const refused = attempts.filter((x) => x.status >= 500);
        for (const x of refused) {
          // A clean 5xx: after waiting out the busy timeout, 503 and a JSON error that says only that.
          expect(x.at - x.sentAt).toBeGreaterThanOrEqual(SQLITE_BUSY_TIMEOUT_MS - 50);
          expect({ status: x.status, body: JSON.parse(x.responseBody.toString('utf8')) as unknown }).toEqual(BUSY);
        }
        // The hub sent the same bytes each time (it backs off between them) until one was taken.
        const accepted = attempts.filter((x) => x.status >= 200 && x.status < 300);
        expect(accepted.length).toBeGreaterThanOrEqual(1);
        expect(new Set(attempts.slice(0, refused.length + 1).map((x) => x.body.toString('base64'))).size).toBe(1);
      },
    ),
    120_000,
  );

  it(
    "the hub's locked database: a follower's submission waits busy_timeout, gets a clean 5xx, is retried and lands once after the release",
    withClusterLogs(
      () => cluster,
      async (c) => {
        const tap = c.tap(B, A);
        const before = tap.recorded('submitMessage').length;
        const lock = holdSqliteWriteLock(a.databaseFile);
        try {
          await b.control.say(mirror, userOf(B), FROM_B_TO_LOCKED_A);
          await waitFor(() => since(tap.recorded('submitMessage'), before).filter((x) => x.status >= 500).length >= 2, {
            what: 'two refused submissions to A',
            timeoutMs: HOLD_MS + 10_000,
          });
        } finally {
          await lock.release();
        }
        for (const [g, room] of [
          [a, ROOM],
          [b, mirror],
        ] as const) {
          const stored = await waitForValue(
            async () => storedTexts(await g.provisioning.events(roomUri)),
            (t) => t.includes(FROM_B_TO_LOCKED_A),
            { what: `the message stored on ${g.domain}` },
          );
          expect(notExactlyOnce(stored, [FROM_B_TO_LOCKED_A])).toEqual({});
          const shown = await waitForValue(
            () => shownTexts(g, room),
            (t) => t.includes(FROM_B_TO_LOCKED_A),
            { what: `the message shown on ${g.domain}` },
          );
          expect(notExactlyOnce(shown, [FROM_B_TO_LOCKED_A])).toEqual({});
        }
        const refused = since(tap.recorded('submitMessage'), before).filter((x) => x.status >= 500);
        for (const x of refused) {
          expect(x.at - x.sentAt).toBeGreaterThanOrEqual(SQLITE_BUSY_TIMEOUT_MS - 50);
          expect({ status: x.status, body: JSON.parse(x.responseBody.toString('utf8')) as unknown }).toEqual(BUSY);
        }
      },
    ),
    120_000,
  );
});
