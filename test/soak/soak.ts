/**
 * The soak (issue 14): `npm run soak -- --minutes N --seed S`.
 *
 * Builds the world (soak-world.ts: Synapse, Prosody, three gateways, fault proxies) and three
 * rooms (soak-rooms.ts), runs client traffic (soak-traffic.ts) and seeded faults (soak-faults.ts)
 * for N minutes, then stops the faults, lets every queue drain and checks:
 * - every post arrived exactly once, each sender's posts in order, in every legacy room;
 * - every gateway in a room holds the same posts in the same order;
 * - no outbox row is parked;
 * - each gateway's RSS is back within a bound of its level after set-up.
 * Prints a summary; exits 1 when any check fails, 2 when the run itself broke.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMetric } from '../support/e2e-clients';
import { SeededRandom } from '../support/fault-rng';
import { RssSampler } from '../support/fault-rss';
import { registerUser } from '../servers/synapse/synapse-server';
import { FAULT_KINDS, type SoakFaultKind, SoakFaults, chooseCrashPoints, chooseFaults } from './soak-faults';
import type { CrashPoint } from '../../src/common/crash-points';
import { Ledger, type ViewReport, checkView, compareHistories, percentile } from './soak-ledger';
import { type SoakRoom, createRooms, readHistories, readViews } from './soak-rooms';
import { describeLost } from './soak-lost';
import { SoakTraffic } from './soak-traffic';
import { GATEWAYS, SoakWorld, startTrouble } from './soak-world';

const OBSERVE_EVERY_MS = 5000;
const MEAN_PAUSE_MS = 2500;
/** RSS after the drain may exceed the level after set-up by this much (the larger of the two). */
const RSS_SLACK_RATIO = 0.5;
const RSS_SLACK_KB = 96 * 1024;

interface Args {
  readonly minutes: number;
  readonly seed: number;
  readonly faults: ReadonlySet<SoakFaultKind>;
  readonly crashPoints: readonly CrashPoint[];
}

function parseArgs(argv: readonly string[]): Args {
  let minutes = 3;
  let seed = 1;
  let only: string | undefined;
  let skip: string | undefined;
  let crashPoints: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--minutes' && v !== undefined) minutes = Number(v);
    else if (a === '--seed' && v !== undefined) seed = Number(v);
    else if (a === '--faults' && v !== undefined) only = v;
    else if (a === '--skip-faults' && v !== undefined) skip = v;
    else if (a === '--crash-points' && v !== undefined) crashPoints = v;
    else {
      throw new Error(
        `usage: soak [--minutes N] [--seed S] [--faults k1,k2,...] [--skip-faults k1,...] [--crash-points p1,...] (got ${argv.join(' ')}); faults: ${FAULT_KINDS.join(',')}`,
      );
    }
    i++;
  }
  if (!(minutes > 0) || !Number.isInteger(seed)) throw new Error('--minutes must be > 0 and --seed an integer');
  return { minutes, seed, faults: chooseFaults(only, skip), crashPoints: chooseCrashPoints(crashPoints) };
}

const t0 = Date.now();
function log(line: string): void {
  process.stdout.write(`[soak +${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Watches every view: when each post was first seen in all views of its room. */
class Observer {
  readonly seenEverywhereAt = new Map<string, number>();
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly w: SoakWorld,
    private readonly rooms: readonly SoakRoom[],
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.observe().catch(() => undefined);
        await sleep(OBSERVE_EVERY_MS);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Read every view once; returns the views per room. */
  async observe(): Promise<Map<SoakRoom, Map<string, string[]>>> {
    const out = new Map<SoakRoom, Map<string, string[]>>();
    const now = Date.now();
    for (const room of this.rooms) {
      const views = await readViews(this.w, room);
      out.set(room, views);
      if (views.size < room.seats.size) continue;
      const sets = [...views.values()].map((v) => new Set(v));
      for (const tag of sets[0]!) {
        if (!this.seenEverywhereAt.has(tag) && sets.every((s) => s.has(tag))) this.seenEverywhereAt.set(tag, now);
      }
    }
    return out;
  }
}

interface Verdict {
  readonly reports: ViewReport[];
  readonly historyDiffs: string[];
  readonly complete: boolean;
}

async function verdict(w: SoakWorld, rooms: readonly SoakRoom[], ledger: Ledger, observer: Observer): Promise<Verdict> {
  const all = await observer.observe();
  const reports: ViewReport[] = [];
  const historyDiffs: string[] = [];
  let complete = true;
  for (const room of rooms) {
    const views = all.get(room)!;
    if (views.size < room.seats.size) complete = false;
    const arrived = new Set([...views.values()].flat());
    for (const [view, tags] of views) reports.push(checkView(view, room.name, ledger, tags, arrived));
    try {
      historyDiffs.push(...compareHistories(await readHistories(w, room)).map((d) => `${room.name}: ${d}`));
    } catch (e) {
      complete = false;
      historyDiffs.push(`${room.name}: histories not readable: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { reports, historyDiffs, complete };
}

async function outboxSum(w: SoakWorld, metric: string): Promise<number> {
  let sum = 0;
  for (const g of Object.values(w.gateways)) sum += await readMetric(g.adminUrl, metric);
  return sum;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const runMs = Math.round(args.minutes * 60_000);
  const random = new SeededRandom(args.seed);
  log(
    `soak: ${args.minutes} min, seed ${args.seed}, faults ${[...args.faults].join(',')}, crash points ${args.crashPoints.join(',')}`,
  );
  const w = await SoakWorld.create(args.seed, log);
  const rss = new RssSampler(2000);
  try {
    for (const g of GATEWAYS) rss.track(g, () => w.gateways[g].pid);
    rss.start();
    const rooms = await createRooms(w);
    log(`rooms: ${rooms.map((r) => `${r.name}=${r.roomUri}`).join(' ')}`);
    const erin = await registerUser(w.matrix.synapse, 'erin');
    const ledger = new Ledger();
    const observer = new Observer(w, rooms);
    const traffic = new SoakTraffic(w, rooms, ledger, random.fork('traffic'), MEAN_PAUSE_MS, erin);
    const faults = new SoakFaults(w, random.fork('faults'), runMs, log, args.faults, args.crashPoints);
    await sleep(5000);
    rss.sample();
    const baseline = new Map(rss.summary().map((s) => [s.name, s.lastKb ?? 0]));
    log(`RSS after set-up (kB): ${[...baseline].map(([k, v]) => `${k}=${v}`).join(' ')}`);

    observer.start();
    traffic.start();
    faults.start();
    await sleep(runMs);
    log('faults stop; traffic stops');
    await faults.stop();
    await traffic.stop();
    await observer.stop();

    // Drain: until every view shows everything and no outbox row is pending, or the deadline.
    const drainStart = Date.now();
    const drainDeadline = drainStart + Math.max(300_000, Math.min(runMs / 3, 600_000));
    let v = await verdict(w, rooms, ledger, observer);
    let pending = NaN;
    let settledPolls = 0;
    for (;;) {
      pending = await outboxSum(w, 'mimi_outbox_pending').catch(() => NaN);
      const lost = v.reports.reduce((n, r) => n + r.lost.length, 0);
      if (v.complete && lost === 0 && pending === 0 && v.historyDiffs.length === 0) break;
      // Every view complete and nothing pending for a while: the differences left are final.
      settledPolls = v.complete && lost === 0 && pending === 0 ? settledPolls + 1 : 0;
      if (settledPolls >= 12) break;
      if (Date.now() > drainDeadline) {
        log(`drain deadline reached: ${lost} missing, ${pending} pending, ${v.historyDiffs.length} history diffs`);
        break;
      }
      await sleep(OBSERVE_EVERY_MS);
      v = await verdict(w, rooms, ledger, observer);
    }
    const drainMs = Date.now() - drainStart;
    const parked = await outboxSum(w, 'mimi_outbox_parked').catch(() => NaN);
    await sleep(5000);
    rss.sample();
    rss.stop();

    // ---- summary --------------------------------------------------------------------------------
    const posts = ledger.all();
    const confirmed = posts.filter((p) => p.status === 'confirmed');
    const catchUp = confirmed
      .map((p) => (observer.seenEverywhereAt.get(p.tag) ?? NaN) - p.sentAt)
      .filter((x) => Number.isFinite(x));
    const lost = v.reports.reduce((n, r) => n + r.lost.length, 0);
    const duplicated = v.reports.reduce((n, r) => n + Object.keys(r.duplicated).length, 0);
    const reordered = v.reports.reduce((n, r) => n + r.reordered.length, 0);
    const foreign = v.reports.reduce((n, r) => n + r.unknown.length, 0);
    const proxyFaults: Record<string, number> = {};
    for (const p of w.proxies.values()) {
      for (const [k, n] of Object.entries(p.stats)) proxyFaults[k] = (proxyFaults[k] ?? 0) + n;
    }
    const rssLines = rss.summary().map((s) => {
      const base = baseline.get(s.name) ?? 0;
      const bound = base + Math.max(base * RSS_SLACK_RATIO, RSS_SLACK_KB);
      return { ...s, base, bound: Math.round(bound), ok: (s.lastKb ?? 0) <= bound };
    });
    const rssOk = rssLines.every((r) => r.ok);
    const mb = (kb: number | undefined) => `${((kb ?? 0) / 1024).toFixed(0)} MB`;
    const p99 = percentile(catchUp, 99);
    const lines = [
      '',
      `==== soak summary: ${args.minutes} min, seed ${args.seed} ====`,
      `messages: ${posts.length} posts sent (${confirmed.length} confirmed, ${posts.length - confirmed.length} unconfirmed by a failed send, of which ${v.reports.reduce((n, r) => n + r.unconfirmedArrived, 0)} view-arrivals); ${traffic.counts.edits} edits, ${traffic.counts.reactions} reactions, ${traffic.counts.joins} joins, ${traffic.counts.leaves} leaves; ${traffic.counts.actionErrors} client actions failed during faults`,
      `rooms × views checked: ${v.reports.length} (${rooms.map((r) => `${r.name}: ${r.gateways.join('+')}`).join(', ')})`,
      `faults: ${FAULT_KINDS.map((k) => `${k}=${faults.counts[k]}`).join(' ')}`,
      `proxy faults injected: ${Object.entries(proxyFaults)
        .map(([k, n]) => `${k}=${n}`)
        .join(' ')}`,
      `lost: ${lost}   duplicated: ${duplicated}   reordered: ${reordered}   foreign: ${foreign}`,
      `gateway histories identical: ${v.historyDiffs.length === 0 ? 'yes' : `NO (${v.historyDiffs.length} differences)`}`,
      `outbox after drain: pending=${pending} parked=${parked}`,
      `catch-up (send → seen in every view, ${OBSERVE_EVERY_MS / 1000} s resolution): p50 ${fmtMs(percentile(catchUp, 50))}, p99 ${fmtMs(p99)}, max ${fmtMs(percentile(catchUp, 100))} over ${catchUp.length} posts; drain after the faults: ${fmtMs(drainMs)}`,
      `peak RSS: ${rssLines.map((r) => `${r.name}=${mb(r.peakKb)}`).join(' ')}`,
      `RSS after drain vs bound: ${rssLines.map((r) => `${r.name}=${mb(r.lastKb)}/${mb(r.bound)}${r.ok ? '' : ' OVER'}`).join(' ')}`,
    ];
    for (const r of v.reports) {
      if (r.lost.length + Object.keys(r.duplicated).length + r.reordered.length === 0) continue;
      lines.push(
        `  ${r.view}: lost ${JSON.stringify(r.lost.slice(0, 10))} dup ${JSON.stringify(r.duplicated)} reordered ${JSON.stringify(r.reordered.slice(0, 10))}`,
      );
      const room = rooms.find((x) => r.view.startsWith(`${x.name}@`))!;
      for (const tag of r.lost.slice(0, 3)) {
        lines.push(`   ${tag}:`, ...(await describeLost(w, room, r.view, tag)));
      }
    }
    for (const d of v.historyDiffs) lines.push(`  history: ${d}`);
    if (v.historyDiffs.length > 0) {
      // The raw stored events of every room, to find out what differs.
      const dump = join(tmpdir(), `mimi-soak-histories-${process.pid}.json`);
      const raw: Record<string, unknown> = {};
      for (const room of rooms) {
        for (const g of room.gateways) {
          raw[`${room.name}@${g}`] = await w.gateways[g].provisioning.events(room.roomUri).catch(String);
        }
      }
      writeFileSync(dump, JSON.stringify(raw, null, 1));
      lines.push(`  stored events of every gateway: ${dump}`);
    }
    lines.push(
      `unexpected gateway exits: ${faults.unexpectedExits.length} (restarts retried: ${startTrouble.portClashes} port clashes, ${startTrouble.failedStarts} starts too slow)`,
    );
    for (const x of faults.unexpectedExits) lines.push(`  ${x.split('\n')[0]}`);
    const ok =
      faults.unexpectedExits.length === 0 &&
      lost === 0 &&
      duplicated === 0 &&
      reordered === 0 &&
      v.historyDiffs.length === 0 &&
      parked === 0 &&
      rssOk &&
      v.complete;
    lines.push(`result: ${ok ? 'PASS' : 'FAIL'}`, '');
    process.stdout.write(lines.join('\n'));
    if (!ok) process.stdout.write(`${w.logTails(30)}\nfault journal:\n${faults.journal.join('\n')}\n`);
    return ok ? 0 : 1;
  } finally {
    rss.stop();
    await w.dispose().catch((e: unknown) => log(`dispose failed: ${String(e)}`));
  }
}

function fmtMs(ms: number | undefined): string {
  return ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`;
}

process.on('unhandledRejection', (e) => log(`unhandled rejection (a bug in the soak): ${String(e)}`));

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`soak broke: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
