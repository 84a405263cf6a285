/**
 * Many idle rooms (issue 12 item 4): what N linked rooms cost one gateway process in memory and
 * start-up, and how long the first message in a cold room takes.
 *
 *   npm run bench:rooms-many
 *   node dist/test/bench/rooms-many.bench.js [--sizes 1000,10000] [--members 3] [--cold 10]
 *     [--concurrency 8] [--idle-seconds 10] [--allocator system]
 *
 * Per size, on a fresh memory gateway process (SQLite; the memory platform runs in the same
 * process and keeps its rooms in memory too), with `mls.idleUnloadSeconds` set to `--idle-seconds`
 * (short, to show the unloading within the run; 0 turns it off):
 * 1. baseline: RSS with no room, after start-up and a few idle seconds (the median of 5 samples);
 * 2. N legacy rooms of `--members` users each are created and linked (the hub's MLS group with a
 *    puppet per member), `--concurrency` rooms at a time, and one message is posted in each; RSS
 *    once idle again ("warm");
 * 3. the idle time passes: the bench waits until the gateway reports no MLS group and no identity
 *    in memory (`mimi_mls_groups_loaded`, `mimi_mls_identities_cached`, at most the bot's), then
 *    takes RSS again ("warm, idle unloaded"), the same process that linked the rooms;
 * 4. the process is restarted on the same database: start-up time (spawn to ready) and RSS once
 *    idle ("cold": nothing loaded until used);
 * 5. `--cold` messages, one in each of that many rooms not used since the restart: from entering
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
/** Rooms created and linked at once (the admin API serves them one room lock each). */
const LINK_CONCURRENCY = numberArg('concurrency', 8);
/** The gateway's `mls.idleUnloadSeconds` in this run. */
const IDLE_UNLOAD_SECONDS = numberArg('idle-seconds', 10);
const IDLE_MS = 3000;

interface SizeResult {
  readonly rooms: number;
  readonly noneKb: number;
  readonly startNoneMs: number;
  readonly linkMsPerRoom: number;
  readonly warmKb: number;
  /** After the idle time: RSS, seconds waited for the unloading, groups/identities before → after. */
  readonly unloadedKb: number;
  /** RSS after a full GC (`liveMb`): with no room, and warm once idle unloaded. */
  readonly noneGcKb: number;
  readonly unloadedGcKb: number;
  readonly unloadWaitS: number;
  readonly unloaded: string;
  readonly startMs: number;
  readonly coldKb: number;
  readonly firstMessageMs: number[];
  /** Live JS memory after a GC (MB): none, warm, warm and idle unloaded, after the restart. */
  readonly live: readonly number[];
  /** `mimi_mls_groups_loaded` / `mimi_mls_identities_cached` when warm, after the restart, after the cold messages. */
  readonly loaded: string;
}

async function loadedCounts(gw: GatewayProcess): Promise<{ groups: number; identities: number }> {
  const adminUrl = gw.readyInfo!.adminUrl!;
  const groups = await readMetric(adminUrl, 'mimi_mls_groups_loaded');
  const identities = await readMetric(adminUrl, 'mimi_mls_identities_cached');
  return { groups, identities };
}

async function loadedNow(gw: GatewayProcess): Promise<string> {
  const { groups, identities } = await loadedCounts(gw);
  return `${groups}/${identities}`;
}

/**
 * Wait until the idle sweep unloaded every group and every identity but the bot's (it may stay
 * for the next link); the seconds waited. Throws when that does not happen within four idle times.
 */
async function waitForIdleUnload(gw: GatewayProcess): Promise<number> {
  const started = performance.now();
  const deadline = started + 4 * IDLE_UNLOAD_SECONDS * 1000 + 10_000;
  for (;;) {
    const { groups, identities } = await loadedCounts(gw);
    if (groups === 0 && identities <= 1) return (performance.now() - started) / 1000;
    if (performance.now() > deadline) {
      throw new Error(`still ${groups} group(s) and ${identities} identity(ies) loaded after the idle time`);
    }
    await sleep(500);
  }
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
    const noneGcKb = await idleRssKb(gw);
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
    process.stdout.write(`  linking took ${((performance.now() - linkStarted) / 1000).toFixed(0)} s\n`);
    const warmKb = await idleRssKb(gw);
    const loadedWarm = await loadedNow(gw);
    const liveWarm = await liveMb(gw);
    let unloadedKb = warmKb;
    let unloadedGcKb = warmKb;
    let unloadWaitS = 0;
    let unloaded = 'off';
    let liveUnloaded = liveWarm;
    if (IDLE_UNLOAD_SECONDS > 0) {
      const before = await loadedNow(gw);
      unloadWaitS = await waitForIdleUnload(gw);
      unloaded = `${before} → ${await loadedNow(gw)}`;
      process.stdout.write(`  idle unload (mls.idleUnloadSeconds=${IDLE_UNLOAD_SECONDS}): ${unloaded}\n`);
      unloadedKb = await idleRssKb(gw);
      liveUnloaded = await liveMb(gw);
      unloadedGcKb = await idleRssKb(gw);
    }

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
    const live = [liveNone, liveWarm, liveUnloaded, liveCold];
    return {
      rooms,
      noneKb,
      startNoneMs,
      linkMsPerRoom,
      warmKb,
      unloadedKb,
      noneGcKb,
      unloadedGcKb,
      unloadWaitS,
      unloaded,
      startMs,
      coldKb,
      firstMessageMs,
      loaded,
      live,
    };
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
  // The gateways inherit this env: config override of mls.idleUnloadSeconds (src/config/load-config.ts).
  process.env['MIMI_GATEWAY__MLS__IDLE_UNLOAD_SECONDS'] = String(IDLE_UNLOAD_SECONDS);
  const allocatorEnv = shippedAllocatorEnv();
  Object.assign(process.env, allocatorEnv);
  console.log(`rooms-many: gateway ${describeGatewayAllocator(allocatorEnv, nodeFlags)}`);
  const results: SizeResult[] = [];
  // The table so far after every size: a long run that is cut short still reports what it measured.
  for (const size of SIZES) {
    results.push(await measure(size));
    report(results);
  }
}

function report(results: readonly SizeResult[]): void {
  const mb = (kb: number): string => (kb / 1024).toFixed(0);
  const rows = results.map((r) => {
    const cold = [...r.firstMessageMs].sort((a, b) => a - b);
    return [
      `${r.rooms}`,
      `${MEMBERS}`,
      r.linkMsPerRoom.toFixed(1),
      mb(r.noneKb),
      `${mb(r.warmKb)} (${(r.warmKb / r.noneKb).toFixed(2)}x)`,
      IDLE_UNLOAD_SECONDS > 0 ? `${mb(r.unloadedKb)} (${(r.unloadedKb / r.noneKb).toFixed(2)}x)` : 'off',
      IDLE_UNLOAD_SECONDS > 0 ? `${r.unloadWaitS.toFixed(0)}; ${r.unloaded}` : 'off',
      IDLE_UNLOAD_SECONDS > 0
        ? `${mb(r.noneGcKb)} / ${mb(r.unloadedGcKb)} (${(r.unloadedGcKb / r.noneGcKb).toFixed(2)}x)`
        : 'off',
      `${(r.startNoneMs / 1000).toFixed(1)} / ${(r.startMs / 1000).toFixed(1)}`,
      `${mb(r.coldKb)} (${(r.coldKb / r.noneKb).toFixed(2)}x)`,
      `${percentile(cold, 0.5).toFixed(1)} / ${cold[cold.length - 1]!.toFixed(1)}`,
      r.live.map((v) => v.toFixed(0)).join(' / '),
      r.loaded,
    ];
  });
  process.stdout.write(
    `\nMany idle rooms, one memory gateway process (SQLite; mls.idleUnloadSeconds=${IDLE_UNLOAD_SECONDS}; ` +
      `link concurrency ${LINK_CONCURRENCY}; ${cpus().length} CPUs, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')})\n` +
      formatTable(
        [
          'rooms',
          'members',
          'link+post ms/room',
          'RSS none MB',
          'RSS warm MB',
          'RSS warm, idle unloaded MB',
          'unload wait s; groups/ids before → after',
          'RSS after a GC MB: none / unloaded',
          'start s (none / N)',
          'RSS after restart MB',
          'first msg cold ms p50/max',
          'live JS MB after GC: none / warm / unloaded / restart',
          'groups/identities in memory: warm → restart → cold msgs',
        ],
        rows,
        (i) => i <= 2,
      ) +
      '\nwarm: after linking and one post per room, idle (groups idle longer than the idle time while the\n' +
      'others were linked may be unloaded already); idle unloaded: the same process once the sweep unloaded\n' +
      'every group and puppet identity; after restart: idle, nothing used yet. RSS also holds\n' +
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
