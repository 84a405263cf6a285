/**
 * Faults on the appservice link, with everything real (RELIABILITY T02, T04–T08): a Synapse
 * homeserver, gateway A (the hub) as a `mimi-gateway start` process, follower gateway B, and a
 * FaultProxy between Synapse and A's appservice listener (the registration's `url` points at the
 * proxy), which records every request and the status of its answer and can lose exactly one
 * answer (test/e2e/support/appservice-faults-scene.ts). One environment (one Synapse start) serves
 * the cases on SQLite; a second one, with A on a PostgreSQL cluster of its own, the database
 * being stopped. Each case checks its effect where it counts: one MIMI message in A's and B's
 * histories, one post on B's platform.
 *
 * Needs a build first: `npx nest build`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CRASH_POINT_ENV } from '../../src/common/crash-points';
import { Platform } from '../../src/common/ids';
import { waitFor } from '../support/e2e-wait';
import { holdSqliteWriteLock } from '../support/fault-db-lock';
import type { HttpExchange } from '../support/fault-proxy';
import { PG_CLUSTER_SCRIPT } from '../support/pg-env';
import { FaultsScene, isTransaction } from './support/appservice-faults-scene';
import { HUB_DOMAIN, withMatrixMimiEnv } from './support/matrix-mimi-env';

const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 240_000;
const WAIT_MS = 90_000;

const bodyOf = (ev: Record<string, unknown>): string => String((ev['content'] as { body: unknown }).body);

/** Wait until A's log (written through a pipe, so a little after the fact) has a line matching `pattern`. */
function aLogShows(scene: FaultsScene, pattern: RegExp): Promise<string> {
  return waitFor(() => pattern.exec(readFileSync(scene.env.a.logFile, 'utf8'))?.[0], {
    timeoutMs: WAIT_MS,
    what: `A's log to show ${pattern}`,
  });
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Each text held once by A and by B, and posted once on B's platform. */
async function expectOnceEverywhere(scene: FaultsScene, texts: readonly string[], label: string): Promise<void> {
  expect(await scene.settledCopies(texts, label)).toEqual(texts.map((text) => ({ text, a: 1, b: 1, posted: 1 })));
}

/**
 * A 5xx for the transaction carrying `text` while `fault` is on, counted in
 * mimi_ingest_failed_total; then, once `heal` ran, Synapse's own retry is answered 200 and the
 * message is held once everywhere. Every answer before the last is a refusal.
 */
async function refusedThenDelivered(
  scene: FaultsScene,
  text: string,
  fault: () => Promise<() => Promise<void>>,
): Promise<void> {
  const failuresBefore = await scene.ingestFailures();
  const from = scene.proxy.exchanges.length;
  const heal = await fault();
  const txn = await (async () => {
    try {
      await scene.alice.sendText(scene.roomId, text);
      const first = await scene.firstTransactionFrom(from);
      await waitFor(() => first.status !== undefined, { timeoutMs: WAIT_MS, what: `A's answer to ${first.request}` });
      expect(first.status).toBeGreaterThanOrEqual(500);
      expect(scene.attemptsOf(first).filter((x) => x.status === 200)).toEqual([]);
      return first;
    } finally {
      await heal();
    }
  })();
  await scene.retriedWith200(txn);
  const statuses = scene.attemptsOf(txn).map((x) => x.status);
  expect(statuses.slice(0, -1).every((s) => s !== undefined && s >= 500)).toBe(true);
  expect(statuses[statuses.length - 1]).toBe(200);
  expect(await scene.ingestFailures()).toBeGreaterThan(failuresBefore);
  await expectOnceEverywhere(scene, [text], text);
}

describe('Appservice faults between a real Synapse and `mimi-gateway start` (RELIABILITY T02, T04–T08)', () => {
  let scene: FaultsScene | undefined;

  beforeAll(async () => {
    scene = await FaultsScene.create();
  }, SETUP_TIMEOUT_MS);

  afterAll(() => scene?.dispose(), 120_000);

  const scenario = (body: (s: FaultsScene) => Promise<void>) =>
    withMatrixMimiEnv(
      () => scene?.env,
      () => body(scene!),
    );

  /** Rows of A's legacy_event table for a Matrix event (read from A's SQLite file). */
  function recordedOnA(s: FaultsScene, eventId: string): number {
    const db = new Database(s.env.cluster.gateway(HUB_DOMAIN).databaseFile, { readonly: true, fileMustExist: true });
    try {
      const row = db
        .prepare('SELECT count(*) AS n FROM legacy_event WHERE platform = ? AND platform_event_id = ?')
        .get(Platform.Matrix, eventId) as { n: number };
      return row.n;
    } finally {
      db.close();
    }
  }

  /**
   * Restart A with a crash point armed, send one message, and wait for A to kill itself there.
   * Resolves with the message's event ID and the transaction that carried it (never answered).
   */
  async function crashAt(s: FaultsScene, point: string, text: string): Promise<{ eventId: string; txn: HttpExchange }> {
    const a = s.env.a;
    await a.stop();
    const from = s.proxy.exchanges.length;
    await a.start({ env: { [CRASH_POINT_ENV]: point } });
    const eventId = await s.alice.sendText(s.roomId, text);
    await waitFor(() => !a.running, { timeoutMs: WAIT_MS, what: `A to die at ${point}` });
    expect(a.lastExit?.signal).toBe('SIGKILL');
    await aLogShows(s, new RegExp(escapeRegExp(`MIMI-CRASH-POINT ${point} (hit 1): SIGKILL`)));
    const txn = s.proxy.exchanges.slice(from).find((x) => isTransaction(x) && x.status === undefined);
    expect(txn).toBeDefined();
    return { eventId, txn: txn! };
  }

  it(
    'T04: a lower transaction ID after a higher one is processed when its events are new',
    scenario(async (s) => {
      const base = 900_000_000 + Math.floor(Math.random() * 1_000_000);
      const high = s.crafted('t04-high', `T04 under the higher transaction ID ${s.run}`);
      const low = s.crafted('t04-low', `T04 under the lower transaction ID ${s.run}`);
      expect(await s.put(String(base + 2), [high])).toMatchObject({ status: 200 });
      expect(await s.put(String(base + 1), [low])).toMatchObject({ status: 200 });
      // A still lower ID carrying an event seen before: answered, no second effect.
      expect(await s.put(String(base), [high])).toMatchObject({ status: 200 });
      await expectOnceEverywhere(s, [bodyOf(high), bodyOf(low)], 'T04');
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T08: a poison event sent through Synapse, and a crafted one over 65,536 bytes, are skipped with their reason; neighbours and later transactions flow',
    scenario(async (s) => {
      const from = s.proxy.exchanges.length;
      // Through Synapse: an edit whose new content has a number for its body (Synapse checks only
      // the top-level body and msgtype of an m.room.message), an event of a type the gateway does
      // not bridge, then an ordinary message.
      const target = `T08 the message the poison edit names ${s.run}`;
      const targetId = await s.alice.sendText(s.roomId, target);
      const poison = await s.alice.send(s.roomId, 'm.room.message', {
        msgtype: 'm.text',
        body: '* 4242',
        'm.new_content': { msgtype: 'm.text', body: 4242 },
        'm.relates_to': { rel_type: 'm.replace', event_id: targetId },
      });
      const unsupported = await s.alice.send(s.roomId, 'org.example.unsupported', { body: `T08 unsupported ${s.run}` });
      const after = `T08 after the poison event ${s.run}`;
      await s.alice.sendText(s.roomId, after);
      await expectOnceEverywhere(s, [target, after], 'T08 poison');
      for (const x of await s.env.a.provisioning.events(s.roomUri)) {
        expect([poison, unsupported]).not.toContain(x.platformEventId);
      }
      await aLogShows(
        s,
        new RegExp(
          escapeRegExp(`event ${poison} (m.room.message): skipped, cannot be recorded: message without a string body`),
        ),
      );
      // Synapse had every transaction acknowledged at once: none was refused, none retried.
      const txns = s.proxy.exchanges.slice(from).filter(isTransaction);
      expect(txns.length).toBeGreaterThan(0);
      expect(txns.filter((x) => x.status !== 200)).toEqual([]);

      // Crafted (Synapse refuses such an event from a client): a 70 KB event between two others.
      const before = s.crafted('t08-before', `T08 before the big event ${s.run}`);
      const big = s.crafted('t08-big', `T08 big ${'x'.repeat(70_000)}`);
      const next = s.crafted('t08-next', `T08 after the big event ${s.run}`);
      expect(await s.put(`t08-big-${s.run}`, [before, big, next])).toMatchObject({ status: 200 });
      await aLogShows(s, new RegExp(`event \\$t08-big-${s.run} of 70\\d{3} bytes, over the 65536-byte limit`));
      const later = `T08 a later transaction ${s.run}`;
      await s.alice.sendText(s.roomId, later);
      await expectOnceEverywhere(s, [bodyOf(before), bodyOf(next), later], 'T08 big');
      expect(await s.copies('a', bodyOf(big))).toBe(0);
      expect(await s.copies('b', bodyOf(big))).toBe(0);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    "T02: the gateway's 200 to a transaction is lost; Synapse retries the same transaction and the retry is a no-op",
    scenario(async (s) => {
      const text = `T02 whose 200 is lost ${s.run}`;
      const lost = s.proxy.loseResponse(text);
      await s.alice.sendText(s.roomId, text);
      const cut = await lost;
      // A handled the transaction and answered 200; Synapse never saw it.
      expect(cut).toMatchObject({ status: 200, lost: true });
      expect(cut.request).toMatch(/^PUT \/_matrix\/app\/v1\/transactions\/\d+ /);
      await s.retriedWith200(cut);
      await expectOnceEverywhere(s, [text], 'T02');
      expect(s.attemptsOf(cut).map((x) => x.status)).toEqual([200, 200]);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T07: with A’s SQLite database locked past busy_timeout, the transaction is answered 5xx (never 200), counted in mimi_ingest_failed_total, and delivered once after the lock is gone',
    scenario(async (s) => {
      await refusedThenDelivered(s, `T07 while the database is locked ${s.run}`, async () => {
        const lock = holdSqliteWriteLock(s.env.cluster.gateway(HUB_DOMAIN).databaseFile);
        return () => lock.release();
      });
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T05: A killed at the crash point after-store-before-ack (stored, 200 not sent) processes Synapse’s retry once after its restart',
    scenario(async (s) => {
      const text = `T05 stored before the crash ${s.run}`;
      const { eventId, txn } = await crashAt(s, 'after-store-before-ack', text);
      expect(recordedOnA(s, eventId)).toBe(1);
      await s.env.a.start();
      await s.retriedWith200(txn);
      await expectOnceEverywhere(s, [text], 'T05');
      expect(recordedOnA(s, eventId)).toBe(1);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T06: A killed at the crash point before-store (nothing recorded, no 200) processes Synapse’s retry once after its restart',
    scenario(async (s) => {
      const text = `T06 not stored before the crash ${s.run}`;
      const { eventId, txn } = await crashAt(s, 'before-store', text);
      expect(recordedOnA(s, eventId)).toBe(0);
      await s.env.a.start();
      await s.retriedWith200(txn);
      await expectOnceEverywhere(s, [text], 'T06');
    }),
    STEP_TIMEOUT_MS,
  );
});

describe('Appservice faults with A on PostgreSQL (RELIABILITY T07)', () => {
  // Its own cluster (the e2e tier has none), in its own temp folder: as root, pg-cluster.sh runs
  // the server as `postgres`, which must reach it.
  const pgDir = mkdtempSync(join(tmpdir(), 'mimi-faults-pg-'));
  const pg = (command: 'start' | 'halt' | 'stop'): string =>
    execFileSync('bash', [PG_CLUSTER_SCRIPT, command, pgDir], { encoding: 'utf8' }).trim();
  let scene: FaultsScene | undefined;

  beforeAll(async () => {
    scene = await FaultsScene.create({ hubPostgresUrl: pg('start') });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await scene?.dispose();
    pg('stop');
  }, 120_000);

  it(
    'T07: with PostgreSQL stopped under A, the transaction is answered 5xx (never 200), counted in mimi_ingest_failed_total, and delivered once after PostgreSQL is back',
    withMatrixMimiEnv(
      () => scene?.env,
      async () => {
        const s = scene!;
        const url = pg('start'); // running: prints its URL
        await refusedThenDelivered(s, `T07 while PostgreSQL is stopped ${s.run}`, async () => {
          pg('halt');
          return async () => {
            expect(pg('start')).toBe(url); // back on the same port: A's pool reconnects
          };
        });
        expect(s.env.a.running).toBe(true);
      },
    ),
    STEP_TIMEOUT_MS,
  );
});
