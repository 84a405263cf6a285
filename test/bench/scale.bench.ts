/**
 * Scale bench (issue 9, "Proof"): a linked room whose members have ALL posted, for rooms of 1, 10,
 * 100 and 1,000 members, half of them users of the hub's platform and half users of the follower's
 * (a room of 1 gets one reader on the follower, who must be there to receive anything). Two gateway
 * processes (test/support/memory-gateway.ts, memory platforms, SQLite) talking MIMI over mutual TLS
 * on loopback, with certificates made at start.
 *
 *   npm run bench:scale                                (builds, then runs this)
 *   node dist/test/bench/scale.bench.js [--sizes 1,10,100,1000] [--samples 20] [--ingest 300]
 *                                       [--quick] [--cpu-prof DIR]
 *
 * --quick: sizes 1,10,100, 5 samples, 100 ingest posts. The size-1 room is always measured: it is
 * the ingest baseline. --cpu-prof DIR: the gateway processes write V8 CPU profiles into DIR on exit.
 *
 * Every room is built first (one per size, in the same two processes), then the measurements take
 * turns between the rooms, so that the load of a shared machine weighs on every size alike. Per
 * size, on a room that has reached that size (every member posted once):
 * - first post: a new user joins, posts for the first time, and leaves again (so the room keeps its
 *   size); latency from the post entering the sender's platform to the message rendered on the
 *   other gateway's platform (after that gateway stored it). A hub user's first post makes the hub
 *   commit the user's puppet Add; a follower user's puppet was added when it joined.
 * - join: the same newcomer's join, from the event on its platform to its ghost joining on the
 *   other side (the hub: a participant-list commit; the follower: an Add committed through /update).
 * - ingest: one hub user posts N messages, each acknowledged by the hub before the next; posts/s
 *   = N / (first post entering the platform → last acknowledged), and its ratio to the size-1 rate.
 * - MLS state: bytes (keys + values) of the group's rows in `mls_kv` at each gateway, and per member.
 */
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { E2E_DOMAINS, GatewayCluster } from '../support/e2e-gateways';
import { argValue, formatTable, numberArg, percentile } from './bench-support';
import { ScaleRoom, split, type Sample } from './scale-room';
import { groupStateBytes, type GroupBytes } from './scale-state';

const HUB = E2E_DOMAINS[0];
const FOLLOWER = E2E_DOMAINS[1];
const QUICK = process.argv.includes('--quick');
const SAMPLES = numberArg('samples', QUICK ? 5 : 20);
const INGEST = numberArg('ingest', QUICK ? 100 : 300);
const INGEST_ROUNDS = 5;
const CPU_PROF = argValue('cpu-prof');

/** `--sizes 10,100` (always with 1, the ingest baseline), ascending. */
export function parseSizes(text: string | undefined, quick: boolean): number[] {
  const given = (text ?? (quick ? '1,10,100' : '1,10,100,1000')).split(',').map((s) => Number(s.trim()));
  if (given.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--sizes: whole numbers >= 1, e.g. 10,100');
  return [...new Set([1, ...given])].sort((a, b) => a - b);
}

interface Row {
  readonly size: number;
  readonly leaves: number;
  readonly buildSeconds: number;
  readonly hub: Sample[];
  readonly follower: Sample[];
  readonly ingest: { postsPerSecond: number; deliveredPerSecond: number };
  readonly state: { hub: GroupBytes; follower: GroupBytes };
}

const progress = (text: string): void => void process.stderr.write(`${text}\n`);
const ms = (xs: readonly number[], p: number): string => {
  const v = percentile(
    [...xs].sort((a, b) => a - b),
    p,
  );
  return Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(1) : v.toFixed(0);
};
const kb = (b: number): string => (b / 1024).toFixed(b < 10_240 ? 1 : 0);
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/**
 * Every room is built first; then the measurements take turns between the rooms (ingest in
 * INGEST_ROUNDS rounds, newcomers one per room at a time), so that a load that comes and goes on
 * the machine weighs on every size alike and the ratios stay fair.
 */
async function measure(cluster: GatewayCluster, sizes: readonly number[]): Promise<Row[]> {
  const rooms: { room: ScaleRoom; buildSeconds: number; hub: Sample[]; follower: Sample[] }[] = [];
  for (const size of sizes) {
    const { hub, follower } = split(size);
    progress(`[${size} members: ${hub} on ${HUB}, ${follower} on ${FOLLOWER}] building the room (load ${load()})`);
    const t0 = performance.now();
    const room = await ScaleRoom.build(cluster, [HUB, FOLLOWER], size, progress);
    const buildSeconds = (performance.now() - t0) / 1000;
    progress(`  built in ${buildSeconds.toFixed(1)} s`);
    rooms.push({ room, buildSeconds, hub: [], follower: [] });
  }
  progress(`ingest: ${INGEST} posts per room in ${INGEST_ROUNDS} rounds (load ${load()})`);
  const ingest = rooms.map(() => ({ posts: 0, ackedMs: 0, deliveredMs: 0 }));
  for (let round = 0; round < INGEST_ROUNDS; round += 1) {
    const count = Math.ceil(INGEST / INGEST_ROUNDS);
    for (const [i, r] of rooms.entries()) {
      const t = await r.room.ingest(count);
      ingest[i]!.posts += count;
      ingest[i]!.ackedMs += t.ackedMs;
      ingest[i]!.deliveredMs += t.deliveredMs;
      await r.room.settle();
    }
  }
  progress(`newcomers: ${SAMPLES} per side and room (load ${load()})`);
  for (let n = 0; n < SAMPLES; n += 1) {
    for (const r of rooms) {
      r.hub.push(await r.room.hubNewcomer());
      r.follower.push(await r.room.followerNewcomer());
    }
    if ((n + 1) % 5 === 0 || n + 1 === SAMPLES) progress(`  ${n + 1}/${SAMPLES}`);
  }
  const rows: Row[] = [];
  for (const [i, r] of rooms.entries()) {
    const { posts, ackedMs, deliveredMs } = ingest[i]!;
    rows.push({
      size: sizes[i]!,
      leaves: await r.room.groupMembers(),
      buildSeconds: r.buildSeconds,
      hub: r.hub,
      follower: r.follower,
      ingest: { postsPerSecond: (posts / ackedMs) * 1000, deliveredPerSecond: (posts / deliveredMs) * 1000 },
      state: {
        hub: groupStateBytes(cluster.gateway(HUB).databaseFile, r.room.roomUri),
        follower: groupStateBytes(cluster.gateway(FOLLOWER).databaseFile, r.room.roomUri),
      },
    });
  }
  progress(`done (load ${load()})`);
  return rows;
}

function report(rows: readonly Row[]): string {
  const base = rows.find((r) => r.size === 1)?.ingest.postsPerSecond ?? NaN;
  const latency = formatTable(
    [
      'members',
      'first post a->b p50/p95/p99 ms',
      'first post b->a p50/p95/p99',
      'join a->b p50/p95 ms',
      'join b->a p50/p95',
      'ingest posts/s',
      'x 1-member',
      'delivered/s',
    ],
    rows.map((r) => {
      const { hub, follower } = split(r.size);
      const first = (s: Sample[]): string =>
        `${ms(
          s.map((x) => x.firstPost),
          0.5,
        )} / ${ms(
          s.map((x) => x.firstPost),
          0.95,
        )} / ${ms(
          s.map((x) => x.firstPost),
          0.99,
        )}`;
      const join = (s: Sample[]): string =>
        `${ms(
          s.map((x) => x.join),
          0.5,
        )} / ${ms(
          s.map((x) => x.join),
          0.95,
        )}`;
      return [
        `${r.size} (${hub}+${follower})`,
        first(r.hub),
        first(r.follower),
        join(r.hub),
        join(r.follower),
        r.ingest.postsPerSecond.toFixed(0),
        (r.ingest.postsPerSecond / base).toFixed(2),
        r.ingest.deliveredPerSecond.toFixed(0),
      ];
    }),
    (i) => i > 0,
  );
  const state = formatTable(
    ['members', 'leaves', 'MLS KB on a', 'rows', 'MLS KB on b', 'rows', 'bytes/leaf a', 'bytes/leaf b', 'build s'],
    rows.map((r) => [
      String(r.size),
      String(r.leaves),
      kb(r.state.hub.bytes),
      String(r.state.hub.rows),
      kb(r.state.follower.bytes),
      String(r.state.follower.rows),
      (r.state.hub.bytes / r.leaves).toFixed(0),
      (r.state.follower.bytes / r.leaves).toFixed(0),
      r.buildSeconds.toFixed(1),
    ]),
    (i) => i > 0,
  );
  return [
    latency,
    '',
    state,
    '',
    `a = ${HUB} (hub), b = ${FOLLOWER} (follower); members (a+b) had all posted. ${SAMPLES} newcomers per side and size.`,
    "first post / join: from the event on the sender's platform to the message rendered / the ghost joined on the",
    'other gateway (b->a: the puppet was added at the join, so the first post is a plain message). ingest: one a user,',
    'each post acknowledged before the next, in rounds taking turns with the other rooms; x 1-member = ratio to size 1.',
    "leaves: users with clients in the group (the hub's bot included). MLS KB: the group's mls_kv rows (keys+values).",
    'Goals (issue 9): first post and join < 50 ms at 1,000; ingest at 1,000 >= 0.8 x 1-member; state ~ tree, not tree x puppets.',
  ].join('\n');
}

async function main(): Promise<void> {
  const sizes = parseSizes(argValue('sizes'), QUICK);
  if (CPU_PROF) {
    const dir = resolve(CPU_PROF);
    mkdirSync(dir, { recursive: true });
    process.env['MIMI_E2E_NODE_ARGS'] = `--cpu-prof --cpu-prof-dir=${dir}`;
  }
  console.log(
    `scale bench: sizes ${sizes.join(', ')}, ${SAMPLES} samples, ${INGEST} ingest posts, node ${process.version}, ` +
      `${cpus().length} CPUs (load ${load()}), SQLite (WAL, synchronous=FULL), two gateway processes, ` +
      'mutual TLS on loopback',
  );
  const cluster = await GatewayCluster.create({ domains: [HUB, FOLLOWER], logLevel: 'warn' });
  const rows: Row[] = [];
  try {
    await cluster.startAll();
    rows.push(...(await measure(cluster, sizes)));
  } catch (e) {
    console.error(cluster.logTails(40));
    throw e;
  } finally {
    await cluster.dispose();
  }
  console.log('');
  console.log(report(rows));
  console.log(`load average at the end: ${load()}`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
