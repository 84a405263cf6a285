/**
 * T13 (docs/RELIABILITY.md): a crash in the middle of a fan-out. Hub A (a memory gateway process)
 * and three followers B, C, D (processes too) share one room. A is restarted armed with the crash
 * point `after-send-before-mark-delivered` (src/common/crash-points.ts, as `npm run soak` arms it):
 * the first follower that acknowledges a delivery of the new messages gets it, and A dies on the
 * spot (SIGKILL to itself) before recording it. After A's restart that follower gets the same
 * request again, byte for byte (A's links to its followers go through recording taps), and keeps
 * one copy; every follower stores and shows each message exactly once, in order.
 * Needs `npx nest build` first.
 */
import { randomUUID } from 'node:crypto';
import { CRASH_POINT_ENV } from '../../src/common/crash-points';
import { readMetric } from '../support/e2e-clients';
import { GatewayCluster, type GatewayProcess, withClusterLogs } from '../support/e2e-gateways';
import type { TappedExchange } from '../support/e2e-tap';
import { waitFor, waitForValue } from '../support/e2e-wait';
import { linkWithFollowers, mirrorOf, notExactlyOnce, shownTexts, storedTexts, userOf } from './support/hub-followers';

const A = 'a.example';
const FOLLOWERS = ['b.example', 'c.example', 'd.example'];
const RUN = randomUUID().slice(0, 8);
const ROOM = `!fanout-crash-${RUN}:a`;
const OWNER = userOf(A);
const MESSAGES = Array.from({ length: 5 }, (_v, i) => `fan-out across the crash point ${i} ${RUN}`);
const AFTER = `after the restart ${RUN}`;

describe('T13: a crash between sending to a follower and recording it (three followers)', () => {
  let cluster: GatewayCluster | undefined;

  beforeAll(async () => {
    cluster = await GatewayCluster.create({
      domains: [A, ...FOLLOWERS],
      taps: FOLLOWERS.map((to) => ({ from: A, to })),
      // One request per follower for the whole run, so the resend is of that request.
      outbox: { coalesceMaxMessages: 32 },
    });
    await cluster.startAll();
  }, 120_000);

  afterAll(() => cluster?.dispose());

  it(
    'the follower that got the request before the crash gets it again byte for byte and keeps one copy; each follower has each message once',
    withClusterLogs(
      () => cluster,
      async (c) => {
        const a = c.gateway(A);
        const followers = FOLLOWERS.map((d) => c.gateway(d));
        const roomUri = await linkWithFollowers(a, followers, ROOM, OWNER);
        const mirrors = await Promise.all(followers.map((f) => mirrorOf(f, roomUri)));
        await drained(a);

        // Restart A armed: it dies at the first delivery a follower acknowledges.
        await a.stop();
        await a.start({ [CRASH_POINT_ENV]: 'after-send-before-mark-delivered' });
        const sentBefore = new Map(followers.map((f) => [f.domain, c.tap(A, f.domain).recorded('notify').length]));
        await a.control.sayMany(ROOM, OWNER, MESSAGES, { inFlight: MESSAGES.length });
        const died = await waitFor(() => (a.running ? undefined : a.lastExit), { what: 'A to die at the crash point' });
        expect(died).toEqual({ code: null, signal: 'SIGKILL' });
        expect(a.logTail(400)).toContain('MIMI-CRASH-POINT after-send-before-mark-delivered (hit 1): SIGKILL');
        const atCrash = new Map(
          followers.map((f) => [f.domain, c.tap(A, f.domain).recorded('notify').slice(sentBefore.get(f.domain))]),
        );
        const reached = [...atCrash].filter(([, sent]) => sent.some(acknowledged));
        expect(reached.length).toBeGreaterThanOrEqual(1);

        // A again, unarmed: what was sent but not recorded is sent again.
        await a.start();
        for (const [domain, before] of reached) {
          const acked = before.filter(acknowledged);
          await waitFor(
            () => {
              const after = c
                .tap(A, domain)
                .recorded('notify')
                .slice(sentBefore.get(domain)! + before.length);
              return acked.every((x) => after.some((y) => y.body.equals(x.body) && acknowledged(y)));
            },
            { what: `A's byte-identical resend to ${domain}`, timeoutMs: 60_000 },
          );
        }
        await a.control.say(ROOM, OWNER, AFTER);
        const all = [...MESSAGES, AFTER];
        for (const [i, f] of followers.entries()) {
          const stored = await waitForValue(
            async () => storedTexts(await f.provisioning.events(roomUri)),
            (texts) => all.every((t) => texts.includes(t)),
            { what: `every message stored on ${f.domain}`, timeoutMs: 60_000 },
          );
          expect(notExactlyOnce(stored, all)).toEqual({});
          expect(stored.filter((t) => all.includes(t))).toEqual(all);
          const shown = await waitForValue(
            () => shownTexts(f, mirrors[i]!),
            (texts) => all.every((t) => texts.includes(t)),
            { what: `every message shown on ${f.domain}` },
          );
          expect(notExactlyOnce(shown, all)).toEqual({});
          expect(shown.filter((t) => all.includes(t))).toEqual(all);
        }
        // The hub itself: each message once in its log and on its platform.
        expect(notExactlyOnce(storedTexts(await a.provisioning.events(roomUri)), all)).toEqual({});
        expect(notExactlyOnce(await shownTexts(a, ROOM), all)).toEqual({});
        await drained(a);
      },
    ),
    240_000,
  );
});

function acknowledged(x: TappedExchange): boolean {
  return x.status >= 200 && x.status < 300;
}

/** Until A's outbox has nothing pending for any follower. */
async function drained(a: GatewayProcess): Promise<void> {
  await waitFor(
    async () => (await readMetric(`http://127.0.0.1:${a.ports.admin}`, 'mimi_outbox_pending')) === 0 || undefined,
    { what: "A's outbox drained", timeoutMs: 60_000 },
  );
}
