/**
 * Faults on the appservice link, with everything real (RELIABILITY T02, T04–T08): a Synapse
 * homeserver, gateway A (the hub) as a `mimi-gateway start` process on SQLite, follower gateway B,
 * and a FaultProxy between Synapse and A's appservice listener (the registration's `url` points
 * at the proxy), which records every request and the status of its answer and can lose exactly
 * one answer. One environment (one Synapse start) serves every case; each case checks its
 * effect where it counts: one MIMI message in A's and B's histories, one post on B's platform.
 *
 * Needs a build first: `npx nest build`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { CRASH_POINT_ENV } from '../../src/common/crash-points';
import { Platform } from '../../src/common/ids';
import type { InboundEvent } from '../../src/ports';
import { legacyUserUri } from '../../src/rooms/identity';
import type { NativeUser, StoredRoomEvent } from '../support/e2e-clients';
import { MEMORY_PLATFORM } from '../support/e2e-gateways';
import { waitFor } from '../support/e2e-wait';
import { holdSqliteWriteLock } from '../support/fault-db-lock';
import type { FaultProxy, HttpExchange } from '../support/fault-proxy';
import { type MatrixUserClient, putTransaction } from '../servers/synapse/synapse-server';
import { FOLLOWER_DOMAIN, HUB_DOMAIN, MatrixMimiEnv, withMatrixMimiEnv } from './support/matrix-mimi-env';

const RUN = randomUUID().slice(0, 8);
const BOB: NativeUser = { userId: '@bob:b.example', displayName: 'Bob' };
const BOB_URI = legacyUserUri(FOLLOWER_DOMAIN, MEMORY_PLATFORM, BOB.userId);

const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 240_000;
const WAIT_MS = 90_000;
/** Synapse backs off 2 s, 4 s, 8 s … between retries of a failed transaction. */
const RETRY_WAIT_MS = 120_000;
const TXN_PATH = '/_matrix/app/v1/transactions/';

function storedText(e: StoredRoomEvent): string | undefined {
  const t = e.content?.['text'];
  return typeof t === 'string' ? t : undefined;
}

function postText(e: InboundEvent): string | undefined {
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

const isTransaction = (x: HttpExchange): boolean => x.request.startsWith(`PUT ${TXN_PATH}`);

describe('Appservice faults between a real Synapse and `mimi-gateway start` (RELIABILITY T02, T04–T08)', () => {
  let env: MatrixMimiEnv | undefined;
  let proxy: FaultProxy;
  let alice: MatrixUserClient;
  let roomId: string;
  let roomUri: string;
  let mirror: string;

  beforeAll(async () => {
    env = await MatrixMimiEnv.create({ appserviceProxy: true });
    proxy = env.appserviceProxy!;
    alice = await env.registerUser('alice');
    ({ roomId, roomUri } = await env.createLinkedRoom(alice, 'Faults'));
    await env.inviteRemote(alice, roomId, roomUri, BOB_URI);
    mirror = `mirror:${roomUri}`;
  }, SETUP_TIMEOUT_MS);

  afterAll(() => env?.dispose(), 120_000);

  const scenario = (body: (e: MatrixMimiEnv) => Promise<void>) => withMatrixMimiEnv(() => env, body);

  /** How many events of `text` the gateway holds in the room's history. */
  async function copies(g: 'a' | 'b', text: string): Promise<number> {
    return (await env![g].provisioning.events(roomUri)).filter((x) => storedText(x) === text).length;
  }

  /** How many times `text` was posted on B's platform (the follower's fan-out, rendered). */
  async function postsOnB(text: string): Promise<number> {
    return (await env!.b.control.timeline(mirror)).filter((t) => postText(t.event) === text).length;
  }

  /**
   * Wait until each text reached B, then until a sentinel sent after them did (so any second copy
   * would have arrived too): each is then held once by A and B and posted once on B's platform.
   */
  async function expectOnceEverywhere(texts: readonly string[], label: string, timeoutMs = WAIT_MS): Promise<void> {
    for (const text of texts) {
      await waitFor(async () => (await copies('b', text)) > 0, { timeoutMs, what: `"${text}" stored by B` });
    }
    const sentinel = `sentinel after ${label} ${RUN}`;
    await alice.sendText(roomId, sentinel);
    await waitFor(async () => (await postsOnB(sentinel)) > 0, { timeoutMs, what: `"${sentinel}" posted on B` });
    for (const text of texts) {
      expect({ text, a: await copies('a', text), b: await copies('b', text), posted: await postsOnB(text) }).toEqual({
        text,
        a: 1,
        b: 1,
        posted: 1,
      });
    }
  }

  /** A crafted m.room.message of alice's, as Synapse would push it. */
  function crafted(id: string, body: unknown): Record<string, unknown> {
    return {
      event_id: `$${id}-${RUN}`,
      room_id: roomId,
      sender: alice.userId,
      type: 'm.room.message',
      origin_server_ts: Date.now(),
      content: { msgtype: 'm.text', body },
      unsigned: {},
    };
  }

  const bodyOf = (ev: Record<string, unknown>): string => String((ev['content'] as { body: unknown }).body);

  function put(e: MatrixMimiEnv, txnId: string, events: readonly unknown[]) {
    return putTransaction(e.appserviceUrl, txnId, events, { header: `Bearer ${e.tokens.hsToken}` });
  }

  /** Rows of A's legacy_event table for a Matrix event (read from A's SQLite file while A is down). */
  function recordedOnA(e: MatrixMimiEnv, eventId: string): number {
    const db = new Database(e.cluster.gateway(HUB_DOMAIN).databaseFile, { readonly: true, fileMustExist: true });
    try {
      const row = db
        .prepare('SELECT count(*) AS n FROM legacy_event WHERE platform = ? AND platform_event_id = ?')
        .get(Platform.Matrix, eventId) as { n: number };
      return row.n;
    } finally {
      db.close();
    }
  }

  /** `mimi_ingest_failed_total{platform="matrix",retryable="true"}` on A's /metrics (0 when absent). */
  async function ingestFailures(e: MatrixMimiEnv): Promise<number> {
    const res = await request(`${e.a.adminUrl}/metrics`);
    const text = await res.body.text();
    const m = /^mimi_ingest_failed_total\{platform="matrix",retryable="true"\} (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  /** The first appservice transaction Synapse sent through the proxy from exchange `from` on. */
  function firstTransactionFrom(from: number): Promise<HttpExchange> {
    return waitFor(() => proxy.exchanges.slice(from).find(isTransaction), {
      timeoutMs: WAIT_MS,
      what: 'a transaction from Synapse',
    });
  }

  /** Every exchange of one transaction (same request line: same transaction ID), oldest first. */
  const attemptsOf = (txn: HttpExchange): HttpExchange[] => proxy.exchanges.filter((x) => x.request === txn.request);

  /**
   * Restart A with a crash point armed, send one message, and wait for A to kill itself there.
   * Resolves with the message's event ID and the transaction that carried it.
   */
  async function crashAt(
    e: MatrixMimiEnv,
    point: string,
    text: string,
  ): Promise<{ eventId: string; txn: HttpExchange }> {
    await e.a.stop();
    const from = proxy.exchanges.length;
    await e.a.start({ [CRASH_POINT_ENV]: point });
    const eventId = await alice.sendText(roomId, text);
    await waitFor(() => !e.a.running, { timeoutMs: WAIT_MS, what: `A to die at ${point}` });
    expect(e.a.lastExit?.signal).toBe('SIGKILL');
    expect(readFileSync(e.a.logFile, 'utf8')).toContain(`MIMI-CRASH-POINT ${point} (hit 1): SIGKILL`);
    const txn = proxy.exchanges.slice(from).find((x) => isTransaction(x) && x.status === undefined);
    expect(txn).toBeDefined();
    return { eventId, txn: txn! };
  }

  /** Start A again (unarmed) and wait until Synapse's retry of `txn` was answered 200. */
  async function restartForRetryOf(e: MatrixMimiEnv, txn: HttpExchange): Promise<void> {
    await e.a.start();
    await waitFor(() => attemptsOf(txn).some((x) => x.status === 200), {
      timeoutMs: RETRY_WAIT_MS,
      what: `Synapse's retry of ${txn.request}`,
    });
  }

  it(
    'T04: a lower transaction ID after a higher one is processed when its events are new',
    scenario(async (e) => {
      const base = 900_000_000 + Math.floor(Math.random() * 1_000_000);
      const high = crafted('t04-high', `T04 under the higher transaction ID ${RUN}`);
      const low = crafted('t04-low', `T04 under the lower transaction ID ${RUN}`);
      expect(await put(e, String(base + 2), [high])).toMatchObject({ status: 200 });
      expect(await put(e, String(base + 1), [low])).toMatchObject({ status: 200 });
      // A still lower ID carrying an event seen before: answered, no second effect.
      expect(await put(e, String(base), [high])).toMatchObject({ status: 200 });
      await expectOnceEverywhere([bodyOf(high), bodyOf(low)], 'T04');
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T08: a poison event sent through Synapse, and a crafted one over 65,536 bytes, are skipped with their reason; neighbours and later transactions flow',
    scenario(async (e) => {
      const from = proxy.exchanges.length;
      // Through Synapse: an edit whose new content has a number for its body (Synapse checks only
      // the top-level body and msgtype of an m.room.message), an event of a type the gateway does
      // not bridge, then an ordinary message.
      const target = `T08 the message the poison edit names ${RUN}`;
      const targetId = await alice.sendText(roomId, target);
      const poison = await alice.send(roomId, 'm.room.message', {
        msgtype: 'm.text',
        body: '* 4242',
        'm.new_content': { msgtype: 'm.text', body: 4242 },
        'm.relates_to': { rel_type: 'm.replace', event_id: targetId },
      });
      const unsupported = await alice.send(roomId, 'org.example.unsupported', { body: `T08 unsupported ${RUN}` });
      const after = `T08 after the poison event ${RUN}`;
      await alice.sendText(roomId, after);
      await expectOnceEverywhere([target, after], 'T08 poison');
      for (const x of await e.a.provisioning.events(roomUri)) {
        expect([poison, unsupported]).not.toContain(x.platformEventId);
      }
      expect(readFileSync(e.a.logFile, 'utf8')).toContain(
        `event ${poison} (m.room.message): skipped, cannot be recorded: message without a string body`,
      );
      // Synapse had every transaction acknowledged at once: none was refused, none retried.
      const txns = proxy.exchanges.slice(from).filter(isTransaction);
      expect(txns.length).toBeGreaterThan(0);
      expect(txns.filter((x) => x.status !== 200)).toEqual([]);

      // Crafted (Synapse refuses such an event from a client): a 70 KB event between two others.
      const before = crafted('t08-before', `T08 before the big event ${RUN}`);
      const big = crafted('t08-big', `T08 big ${'x'.repeat(70_000)}`);
      const next = crafted('t08-next', `T08 after the big event ${RUN}`);
      expect(await put(e, `t08-big-${RUN}`, [before, big, next])).toMatchObject({ status: 200 });
      expect(readFileSync(e.a.logFile, 'utf8')).toMatch(
        new RegExp(`event \\$t08-big-${RUN} of 70\\d{3} bytes, over the 65536-byte limit`),
      );
      const later = `T08 a later transaction ${RUN}`;
      await alice.sendText(roomId, later);
      await expectOnceEverywhere([bodyOf(before), bodyOf(next), later], 'T08 big');
      expect(await copies('a', bodyOf(big))).toBe(0);
      expect(await copies('b', bodyOf(big))).toBe(0);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    "T02: the gateway's 200 to a transaction is lost; Synapse retries the same transaction and the retry is a no-op",
    scenario(async () => {
      const text = `T02 whose 200 is lost ${RUN}`;
      const lost = proxy.loseResponse(text);
      await alice.sendText(roomId, text);
      const cut = await lost;
      // A handled the transaction and answered 200; Synapse never saw it.
      expect(cut).toMatchObject({ status: 200, lost: true });
      expect(cut.request).toMatch(new RegExp(`^PUT ${TXN_PATH}\\d+ `));
      await waitFor(() => attemptsOf(cut).some((x) => x.status === 200 && !x.lost), {
        timeoutMs: RETRY_WAIT_MS,
        what: `Synapse's retry of ${cut.request}`,
      });
      await expectOnceEverywhere([text], 'T02');
      expect(attemptsOf(cut).map((x) => x.status)).toEqual([200, 200]);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T07: with A’s SQLite database locked past busy_timeout, the transaction is answered 5xx (never 200), counted in mimi_ingest_failed_total, and delivered once after the lock is gone',
    scenario(async (e) => {
      const failuresBefore = await ingestFailures(e);
      const from = proxy.exchanges.length;
      const text = `T07 while the database is locked ${RUN}`;
      const lock = holdSqliteWriteLock(e.cluster.gateway(HUB_DOMAIN).databaseFile);
      const txn = await (async () => {
        try {
          await alice.sendText(roomId, text);
          const first = await firstTransactionFrom(from);
          await waitFor(() => first.status !== undefined, {
            timeoutMs: WAIT_MS,
            what: `A's answer to ${first.request}`,
          });
          expect(first.status).toBeGreaterThanOrEqual(500);
          expect(await ingestFailures(e)).toBeGreaterThan(failuresBefore);
          // Every answer while the lock is held is a refusal.
          expect(attemptsOf(first).filter((x) => x.status === 200)).toEqual([]);
          return first;
        } finally {
          await lock.release();
        }
      })();
      await waitFor(() => attemptsOf(txn).some((x) => x.status === 200), {
        timeoutMs: RETRY_WAIT_MS,
        what: `Synapse's retry of ${txn.request} answered 200`,
      });
      const statuses = attemptsOf(txn).map((x) => x.status);
      expect(statuses.slice(0, -1).every((s) => s !== undefined && s >= 500)).toBe(true);
      expect(statuses[statuses.length - 1]).toBe(200);
      await expectOnceEverywhere([text], 'T07');
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T05: A killed at the crash point after-store-before-ack (stored, 200 not sent) processes Synapse’s retry once after its restart',
    scenario(async (e) => {
      const text = `T05 stored before the crash ${RUN}`;
      const { eventId, txn } = await crashAt(e, 'after-store-before-ack', text);
      expect(recordedOnA(e, eventId)).toBe(1);
      await restartForRetryOf(e, txn);
      await expectOnceEverywhere([text], 'T05');
      expect(recordedOnA(e, eventId)).toBe(1);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T06: A killed at the crash point before-store (nothing recorded, no 200) processes Synapse’s retry once after its restart',
    scenario(async (e) => {
      const text = `T06 not stored before the crash ${RUN}`;
      const { eventId, txn } = await crashAt(e, 'before-store', text);
      expect(recordedOnA(e, eventId)).toBe(0);
      await restartForRetryOf(e, txn);
      await expectOnceEverywhere([text], 'T06');
    }),
    STEP_TIMEOUT_MS,
  );
});
