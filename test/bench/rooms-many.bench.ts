/**
 * Many idle rooms (issue 12 item 4): what N linked rooms cost one gateway process in memory and
 * start-up, and how long the first message in a cold room takes.
 *
 *   npm run bench:rooms-many
 *   node dist/test/bench/rooms-many.bench.js [--sizes 1000,10000] [--members 3] [--cold 10] [--allocator system]
 *
 * Per size, on a fresh memory gateway process (SQLite; the memory platform runs in the same
 * process and keeps its rooms in memory too):
 * 1. baseline: RSS with no room, after start-up and a few idle seconds (the median of 5 samples);
 * 2. N legacy rooms of `--members` users each are created and linked (the hub's MLS group with a
 *    puppet per member), and one message is posted in each; RSS once idle again ("warm");
 * 3. the process is restarted on the same database: start-up time (spawn to ready) and RSS once
 *    idle ("cold": nothing loaded until used);
 * 4. `--cold` messages, one in each of that many rooms not used since the restart: from entering
 *    the platform to the gateway's acknowledgement (the group loaded from storage, the message
 *    encrypted and stored).
 * Goals (issue 12): RSS at 1,000 idle rooms <= 1.25 x the RSS with none, at 10,000 <= 2 x.
 */
import { cpus, loadavg } from 'node:os';
import { ParticipantRole } from '../../src/ports';
import { readRssKb } from '../support/fault-rss';
import { readMetric } from '../support/e2e-clients';
import { GatewayCluster, type GatewayProcess, MEMORY_PLATFORM } from '../support/e2e-gateways';
import {
  argValue,
  describeGatewayAllocator,
  formatTable,
  numberArg,
  percentile,
  shippedAllocatorEnv,
  shippedNodeFlags,
} from './bench-support';

const SIZES = (argValue('sizes') ?? '1000,10000').split(',').map(Number);
const MEMBERS = numberArg('members', 3);
const COLD = numberArg('cold', 10);
/** Links at once (the admin API serves them one room lock each). */
const LINK_CONCURRENCY = 4;
const IDLE_MS = 3000;

interface SizeResult {
  readonly rooms: number;
  readonly noneKb: number;
  readonly startNoneMs: number;
  readonly linkMsPerRoom: number;
  readonly warmKb: number;
  readonly startMs: number;
  readonly coldKb: number;
  readonly firstMessageMs: number[];
  /** Live JS memory after a GC (MB): none, warm, after the restart. */
  readonly live: readonly number[];
  /** `mimi_mls_groups_loaded` / `mimi_mls_identities_cached` when warm, after the restart, after the cold messages. */
  readonly loaded: string;
}

async function loadedNow(gw: GatewayProcess): Promise<string> {
  const adminUrl = gw.readyInfo!.adminUrl!;
  const groups = await readMetric(adminUrl, 'mimi_mls_groups_loaded');
  const identities = await readMetric(adminUrl, 'mimi_mls_identities_cached');
  return `${groups}/${identities}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The live JavaScript memory (heap + external, MB) after a full GC (the processes run with --expose-gc). */
async function liveMb(gw: GatewayProcess): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${gw.ports.control}/memory?gc=1`);
  const m = (await res.json()) as { heapUsed: number; external: number; gcRan: boolean };
  if (!m.gcRan) throw new Error('the gateway did not run a GC (no --expose-gc?)');
  return (m.heapUsed + m.external) / 1024 / 1024;
}

/** Median of 5 VmRSS samples a second apart, after `IDLE_MS` of quiet. */
async function idleRssKb(gw: GatewayProcess): Promise<number> {
  await sleep(IDLE_MS);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const kb = readRssKb(gw.pid!);
    if (kb === undefined) throw new Error(`${gw.domain} is gone`);
    samples.push(kb);
    await sleep(1000);
  }
  return samples.sort((a, b) => a - b)[2]!;
}

async function timedStart(gw: GatewayProcess): Promise<number> {
  const started = performance.now();
  await gw.start();
  return performance.now() - started;
}

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<void>, label: string) {
  let done = 0;
  let reported = 0;
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(fn));
    done = Math.min(items.length, i + size);
    if (done - reported >= items.length / 10 || done === items.length) {
      process.stdout.write(`  ${label}: ${done}/${items.length}\n`);
      reported = done;
    }
  }
}

async function measure(rooms: number): Promise<SizeResult> {
  const cluster = await GatewayCluster.create({ domains: ['a.example'], logLevel: 'warn', startTimeoutMs: 600_000 });
  try {
    const gw = cluster.gateway('a.example');
    const startNoneMs = await timedStart(gw);
    const noneKb = await idleRssKb(gw);
    const liveNone = await liveMb(gw);
    process.stdout.write(`${rooms} rooms: RSS with none ${(noneKb / 1024).toFixed(0)} MB\n`);

    const ids = Array.from({ length: rooms }, (_, i) => i);
    const user = (r: number, m: number) => ({ userId: `@u${m}-r${r}:a.example`, displayName: `User ${m}` });
    const roomId = (r: number) => `!many-${r}:a.example`;
    const linkStarted = performance.now();
    await inBatches(
      ids,
      LINK_CONCURRENCY,
      async (r) => {
        const members = Array.from({ length: MEMBERS }, (_, m) => ({
          ...user(r, m),
          role: m === 0 ? ParticipantRole.Owner : ParticipantRole.Member,
        }));
        await gw.control.createRoom(roomId(r), { members });
        await gw.provisioning.linkRoom(MEMORY_PLATFORM, roomId(r));
        await gw.control.say(roomId(r), user(r, 0), `hello from room ${r}`);
      },
      'created, linked and posted in',
    );
    const linkMsPerRoom = (performance.now() - linkStarted) / rooms;
    const warmKb = await idleRssKb(gw);
    const loadedWarm = await loadedNow(gw);
    const liveWarm = await liveMb(gw);

    await gw.stop(120_000);
    const startMs = await timedStart(gw);
    const coldKb = await idleRssKb(gw);
    const loadedCold = await loadedNow(gw);
    const liveCold = await liveMb(gw);
    const firstMessageMs: number[] = [];
    for (let k = 0; k < Math.min(COLD, rooms); k++) {
      const r = Math.floor(((k + 0.5) * rooms) / Math.min(COLD, rooms));
      const sent = await gw.control.say(roomId(r), user(r, 1), `first after the restart in room ${r}`);
      firstMessageMs.push(sent.ackedAt - sent.recordedAt);
    }
    const loaded = `${loadedWarm} → ${loadedCold} → ${await loadedNow(gw)}`;
    const live = [liveNone, liveWarm, liveCold];
    return { rooms, noneKb, startNoneMs, linkMsPerRoom, warmKb, startMs, coldKb, firstMessageMs, loaded, live };
  } finally {
    await cluster.dispose();
  }
}

async function main(): Promise<void> {
  // The gateway processes run on the allocator and with the node flags `npm start` gives them
  // (scripts/allocator.sh): jemalloc when installed (`--allocator system` for glibc's malloc), V8's
  // heap settings (`--node-flags ""` for V8's defaults). A full GC on request (GET /memory?gc=1), to
  // tell live memory from what the allocator keeps.
  const nodeFlags = shippedNodeFlags();
  process.env['MIMI_E2E_NODE_ARGS'] = [...nodeFlags, process.env['MIMI_E2E_NODE_ARGS'] ?? '', '--expose-gc']
    .join(' ')
    .trim();
  const allocatorEnv = shippedAllocatorEnv();
  Object.assign(process.env, allocatorEnv);
  console.log(`rooms-many: gateway ${describeGatewayAllocator(allocatorEnv, nodeFlags)}`);
  const results: SizeResult[] = [];
  for (const size of SIZES) results.push(await measure(size));
  const mb = (kb: number): string => (kb / 1024).toFixed(0);
  const rows = results.map((r) => {
    const cold = [...r.firstMessageMs].sort((a, b) => a - b);
    return [
      `${r.rooms}`,
      `${MEMBERS}`,
      r.linkMsPerRoom.toFixed(1),
      mb(r.noneKb),
      `${mb(r.warmKb)} (${(r.warmKb / r.noneKb).toFixed(2)}x)`,
      `${(r.startNoneMs / 1000).toFixed(1)} / ${(r.startMs / 1000).toFixed(1)}`,
      `${mb(r.coldKb)} (${(r.coldKb / r.noneKb).toFixed(2)}x)`,
      `${percentile(cold, 0.5).toFixed(1)} / ${cold[cold.length - 1]!.toFixed(1)}`,
      r.live.map((v) => v.toFixed(0)).join(' / '),
      r.loaded,
    ];
  });
  process.stdout.write(
    `\nMany idle rooms, one memory gateway process (SQLite; ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})\n` +
      formatTable(
        [
          'rooms',
          'members',
          'link+post ms/room',
          'RSS none MB',
          'RSS warm MB',
          'start s (none / N)',
          'RSS after restart MB',
          'first msg cold ms p50/max',
          'live JS MB after GC: none / warm / restart',
          'groups/identities in memory: warm → restart → cold msgs',
        ],
        rows,
        (i) => i <= 2,
      ) +
      '\nwarm: after linking and one post per room, idle; after restart: idle, nothing used yet. RSS also holds\n' +
      'what the allocator keeps after a burst; the live JS column is heap + external after a full GC.\n' +
      'Goals (issue 12): RSS at 1,000 idle rooms <= 1.25x none, at 10,000 <= 2x.\n',
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`rooms-many bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
