/**
 * T40 (docs/RELIABILITY.md): concurrent writes to one room from three sources while the hub is
 * killed at random. Hub A and followers B and C are memory gateway processes; A's platform stands
 * in for the Matrix side (the legacy room the hub links), B's for an XMPP side (B's mirror room)
 * and C is a further follower provider. Their users post into the one MIMI room at the same time,
 * in chunks at a seeded random pace, while A is killed with SIGKILL three times at seeded random
 * moments and restarted
 * (the seed is printed; MIMI_T40_SEED replays it, MIMI_T40_LOG=debug sets the gateways' log level).
 *
 * Checked: the hub's log of the room has gap-free sequence numbers and every message once; B and C
 * store the same log in the same order; each source's messages are in the order they were posted;
 * and every legacy side (A's room, B's and C's mirror rooms) shows each message once, the messages
 * of the other sides in the hub's order. Needs `npx nest build` first.
 */
import { randomUUID } from 'node:crypto';
import type { NativeUser, StoredRoomEvent } from '../support/e2e-clients';
import { GatewayCluster, type GatewayProcess, withClusterLogs } from '../support/e2e-gateways';
import { waitFor, waitForValue } from '../support/e2e-wait';
import { SeededRandom } from '../support/fault-rng';
import { linkWithFollowers, mirrorOf, notExactlyOnce, shownTexts, storedTexts, userOf } from './support/hub-followers';

const A = 'a.example';
const B = 'b.example';
const C = 'c.example';
const RUN = randomUUID().slice(0, 8);
const ROOM = `!three-sources-${RUN}:a`;
const PER_SOURCE = 150;
const CHUNK = 5;
const KILLS = 3;
const SEED = Number(process.env.MIMI_T40_SEED ?? Date.now() % 1_000_000);

const textsOf = (source: string): string[] =>
  Array.from({ length: PER_SOURCE }, (_v, i) => `${source} message ${i} ${RUN}`);

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The elements of `seen` that are in `texts`, in the order of `seen`. */
function onlyOf(seen: readonly string[], texts: readonly string[]): string[] {
  const wanted = new Set(texts);
  return seen.filter((s) => wanted.has(s));
}

describe('T40: three sources writing into one room while the hub is killed', () => {
  let cluster: GatewayCluster | undefined;

  beforeAll(async () => {
    cluster = await GatewayCluster.create({
      domains: [A, B, C],
      logLevel: (process.env.MIMI_T40_LOG as 'debug' | undefined) ?? 'log',
    });
    await cluster.startAll();
  }, 120_000);

  afterAll(() => cluster?.dispose());

  it(
    'keeps one gap-free hub sequence with every message once, the same order on both followers, and each legacy side in that order',
    withClusterLogs(
      () => cluster,
      async (c) => {
        process.stdout.write(`T40 seed ${SEED}\n`);
        const random = new SeededRandom(SEED);
        const [a, b, cc] = [c.gateway(A), c.gateway(B), c.gateway(C)];
        const owner = userOf(A);
        const roomUri = await linkWithFollowers(a, [b, cc], ROOM, owner);
        const rooms = new Map<GatewayProcess, string>([
          [a, ROOM],
          [b, await mirrorOf(b, roomUri)],
          [cc, await mirrorOf(cc, roomUri)],
        ]);
        const sources = new Map<GatewayProcess, string[]>([
          [a, textsOf('matrix-like A')],
          [b, textsOf('xmpp-like B')],
          [cc, textsOf('follower C')],
        ]);

        let posting = true;
        const kills: number[] = [];
        const killer = (async () => {
          for (let k = 0; k < KILLS && posting; k += 1) {
            await pause(random.int(300, 1500));
            if (!posting) break;
            await a.kill();
            kills.push(Date.now());
            await pause(random.int(200, 800));
            await a.start();
          }
        })();
        const post = async (g: GatewayProcess, user: NativeUser): Promise<void> => {
          const texts = sources.get(g)!;
          const room = rooms.get(g)!;
          const pace = random.fork(g.domain);
          for (let i = 0; i < texts.length; i += CHUNK) {
            await pause(pace.int(50, 250));
            const chunk = texts.slice(i, i + CHUNK);
            for (;;) {
              try {
                await g.control.sayMany(room, user, chunk);
                break;
              } catch {
                // A's platform went down with A: once it is back (its journal replays what it
                // had), post what it does not have yet, in order.
                await waitFor(async () => (await g.control.health()).pid, { what: `${g.domain} back` });
                const shown = new Set(await shownTexts(g, room));
                const missing = chunk.filter((t) => !shown.has(t));
                if (missing.length === 0) break;
                chunk.splice(0, chunk.length, ...missing);
              }
            }
          }
        };
        await Promise.all([post(a, owner), post(b, userOf(B)), post(cc, userOf(C))]);
        posting = false;
        await killer;
        process.stdout.write(`T40: A killed ${kills.length} times while the three sources posted\n`);
        expect(kills).toHaveLength(KILLS);
        if (!a.running) await a.start();
        await waitFor(async () => (await a.control.unacknowledged()).length === 0, { what: 'A’s platform redelivery' });

        const all = [...sources.values()].flat();
        const hubEvents = await waitForValue(
          () => a.provisioning.events(roomUri),
          (evs) => all.every((t) => storedTexts(evs).includes(t)),
          { what: 'every message in the hub’s log', timeoutMs: 180_000 },
        );
        // One gap-free sequence, every message once, each source in its posting order.
        const seqs = hubEvents.map((e) => Number(e.seq));
        expect(seqs).toEqual(seqs.map((_s, i) => seqs[0]! + i));
        const hubOrder = onlyOf(storedTexts(hubEvents), all);
        expect(notExactlyOnce(hubOrder, all)).toEqual({});
        for (const texts of sources.values()) expect(onlyOf(hubOrder, texts)).toEqual(texts);

        // The followers store the same log in the same order.
        const ids = (evs: readonly StoredRoomEvent[]) => evs.map((e) => e.messageId);
        for (const f of [b, cc]) {
          const theirs = await waitForValue(
            () => f.provisioning.events(roomUri),
            (evs) => evs.length >= hubEvents.length,
            { what: `${f.domain}'s log`, timeoutMs: 120_000 },
          );
          expect(ids(theirs)).toEqual(ids(hubEvents));
        }
        // Every legacy side shows each message once; the other sides' messages in the hub's order.
        for (const [g, room] of rooms) {
          const shown = await waitForValue(
            () => shownTexts(g, room),
            (t) => all.every((x) => t.includes(x)),
            { what: `every message shown on ${g.domain}`, timeoutMs: 120_000 },
          );
          expect(notExactlyOnce(shown, all)).toEqual({});
          const others = all.filter((t) => !sources.get(g)!.includes(t));
          expect(onlyOf(shown, others)).toEqual(onlyOf(hubOrder, others));
          expect(onlyOf(shown, sources.get(g)!)).toEqual(sources.get(g));
        }
      },
    ),
    600_000,
  );
});
