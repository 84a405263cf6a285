/**
 * The soak's faults, drawn from the seed one after another while traffic runs:
 *
 * - kill: SIGKILL a gateway, restart it a few seconds later;
 * - crash-point: restart a gateway armed with MIMI_GATEWAY_CRASH_POINT (src/common/crash-points.ts)
 *   so that it kills itself after a store before the ack, or after a send before markDelivered;
 *   restart it unarmed once it died;
 * - synapse-restart, prosody-restart: stop the server, start it again on the same data;
 * - proxy: reset/truncate/stall/delay/drop rates on one link for a while (fault-proxy.ts);
 * - http-burst: A's requests to Synapse answered 503 or 429 with Retry-After for a while;
 * - follower-down: C (a follower of R1 and R2) stopped for minutes (a sixth of the run, at least
 *   30 s), once per run, in the background;
 * - clock-skew: restart a gateway with its clock seconds ahead or behind (MIMI_TEST_CLOCK_OFFSET_MS);
 *   it keeps the skew until its next restart;
 * - pg-restart: stop PostgreSQL (B's and C's database) for a few seconds, cleanly or as a crash, and
 *   start it again on the same data; the two gateways ride it out (no exit, nothing lost). Drawn like
 *   the others, and once per run at the latest in the second half.
 */
import { CRASH_POINTS, CRASH_POINT_ENV, type CrashPoint } from '../../src/common/crash-points';
import { CLOCK_OFFSET_ENV } from '../../src/common/clock';
import type { SeededRandom } from '../support/fault-rng';
import { type FaultSettings } from '../support/fault-proxy';
import { C, GATEWAYS, type GatewayName, type SoakWorld, startTrouble, startWithEnv, stopQuietly } from './soak-world';

export const FAULT_KINDS = [
  'kill',
  'crash-point',
  'synapse-restart',
  'prosody-restart',
  'proxy',
  'http-burst',
  'follower-down',
  'clock-skew',
  'pg-restart',
] as const;
export type SoakFaultKind = (typeof FAULT_KINDS)[number];

/**
 * The fault set a run draws from: `--faults a,b,c` keeps only those kinds, `--skip-faults a,b`
 * drops those (e.g. `--skip-faults pg-restart`); by default every kind. Unknown names are an error.
 */
export function chooseFaults(only: string | undefined, skip: string | undefined): ReadonlySet<SoakFaultKind> {
  const parse = (list: string, flag: string): SoakFaultKind[] =>
    list
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k !== '')
      .map((k) => {
        if (!(FAULT_KINDS as readonly string[]).includes(k)) {
          throw new Error(`${flag}: unknown fault "${k}" (known: ${FAULT_KINDS.join(',')})`);
        }
        return k as SoakFaultKind;
      });
  const chosen = new Set<SoakFaultKind>(only === undefined ? FAULT_KINDS : parse(only, '--faults'));
  if (skip !== undefined) for (const k of parse(skip, '--skip-faults')) chosen.delete(k);
  if (chosen.size === 0) throw new Error('--faults/--skip-faults leave no fault to draw');
  return chosen;
}

/**
 * The crash points a `crash-point` fault draws from: `--crash-points a,b` keeps only those (e.g. the
 * two that existed before `before-store`, to draw what the runs of that time drew); by default all.
 */
export function chooseCrashPoints(only: string | undefined): readonly CrashPoint[] {
  if (only === undefined) return CRASH_POINTS;
  const names = only
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  for (const n of names) {
    if (!(CRASH_POINTS as readonly string[]).includes(n)) {
      throw new Error(`--crash-points: unknown crash point "${n}" (known: ${CRASH_POINTS.join(',')})`);
    }
  }
  if (names.length === 0) throw new Error('--crash-points names no crash point');
  return CRASH_POINTS.filter((p) => names.includes(p));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SoakFaults {
  readonly counts: Record<SoakFaultKind, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<
    SoakFaultKind,
    number
  >;
  /** One line per fault, for the log. */
  readonly journal: string[] = [];
  /** Gateways that exited without a fault asking them to (each restarted). */
  readonly unexpectedExits: string[] = [];
  private running = false;
  private loop?: Promise<void>;
  private watch?: NodeJS.Timeout;
  /** Gateways a fault is acting on right now (their exits are expected). */
  private readonly busy = new Set<string>();
  private followerDown?: Promise<void>;
  private downGateway?: GatewayName;
  private readonly skewed = new Set<GatewayName>();

  constructor(
    private readonly w: SoakWorld,
    private readonly random: SeededRandom,
    private readonly runMs: number,
    private readonly log: (line: string) => void,
    private readonly enabled: ReadonlySet<SoakFaultKind> = new Set(FAULT_KINDS),
    private readonly crashPoints: readonly CrashPoint[] = CRASH_POINTS,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.faultLoop();
    this.watch = setInterval(() => void this.watchdog(), 2000);
  }

  /** A gateway that is down while no fault acts on it died by itself: record it, restart it. */
  private async watchdog(): Promise<void> {
    for (const g of Object.values(this.w.gateways)) {
      if (g.running || this.busy.has(g.domain)) continue;
      this.busy.add(g.domain);
      if (startTrouble.failedSince.has(g.domain)) {
        this.log(`${g.domain}: its last start failed (killed by the harness); starting it again`);
      } else {
        const line = `UNEXPECTED EXIT of ${g.domain}: ${JSON.stringify(g.lastExit)}\n${g.logTail(30)}`;
        this.unexpectedExits.push(line);
        this.log(line);
      }
      await g.start().catch((e: unknown) => this.log(`restarting ${g.domain} failed: ${String(e)}`));
      this.busy.delete(g.domain);
    }
  }

  /** Run `body` on gateway `g` with the watchdog looking away. */
  private async on<T>(g: { domain: string }, body: () => Promise<T>): Promise<T> {
    this.busy.add(g.domain);
    try {
      return await body();
    } finally {
      this.busy.delete(g.domain);
    }
  }

  /** Stop drawing faults, wait for the one running, heal every proxy and start whatever is down. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.followerDown;
    clearInterval(this.watch);
    for (const p of this.w.proxies.values()) {
      p.heal();
      p.cutAll();
    }
    for (const g of Object.values(this.w.gateways)) if (!g.running) await g.start();
    // After the skew faults, every gateway runs on the true clock again for the checks.
    for (const g of this.skewed) {
      await stopQuietly(this.w.gateways[g]);
      await this.w.gateways[g].start();
    }
    this.skewed.clear();
  }

  private note(kind: SoakFaultKind, what: string): void {
    this.counts[kind] += 1;
    const line = `${new Date().toISOString()} fault ${kind}: ${what}`;
    this.journal.push(line);
    this.log(line);
  }

  private async faultLoop(): Promise<void> {
    const started = Date.now();
    // The follower goes down once, somewhere in the first half of the run.
    const downAt = started + this.random.int(Math.floor(this.runMs * 0.1), Math.floor(this.runMs * 0.5));
    const downMs = Math.max(30_000, Math.floor(this.runMs / 6));
    // PostgreSQL restarts at least once, in the second half of the run.
    const pgAt = started + this.random.int(Math.floor(this.runMs * 0.5), Math.floor(this.runMs * 0.8));
    const kinds = FAULT_KINDS.filter((k) => k !== 'follower-down' && this.enabled.has(k));
    const forcePg = this.enabled.has('pg-restart');
    while (this.running) {
      await sleep(this.random.int(8_000, 20_000));
      if (!this.running) break;
      if (this.enabled.has('follower-down') && this.followerDown === undefined && Date.now() >= downAt) {
        this.followerDown = this.takeFollowerDown(downMs);
        continue;
      }
      if (kinds.length === 0) continue;
      const kind =
        forcePg && this.counts['pg-restart'] === 0 && Date.now() >= pgAt ? 'pg-restart' : this.random.pick(kinds);
      try {
        await this.inject(kind);
      } catch (e) {
        this.log(`fault ${kind} failed to inject or recover: ${e instanceof Error ? e.message : String(e)}`);
        for (const g of Object.values(this.w.gateways)) {
          if (!g.running && g.domain !== this.downGateway && !this.busy.has(g.domain)) {
            await g.start().catch(() => undefined);
          }
        }
      }
    }
  }

  private upGateways(): GatewayName[] {
    return GATEWAYS.filter((g) => g !== this.downGateway && !this.busy.has(g) && this.w.gateways[g].running);
  }

  private async inject(kind: SoakFaultKind): Promise<void> {
    const rnd = this.random;
    switch (kind) {
      case 'kill': {
        const name = rnd.pick(this.upGateways());
        const g = this.w.gateways[name];
        await this.on(g, async () => {
          await g.kill();
          this.skewed.delete(name);
          this.note(kind, `SIGKILL ${g.domain}`);
          await sleep(rnd.int(500, 5000));
          await g.start();
        });
        return;
      }
      case 'crash-point': {
        const name = rnd.pick(this.upGateways());
        const g = this.w.gateways[name];
        const point = `${rnd.pick(this.crashPoints)}:${rnd.int(1, 3)}`;
        await this.on(g, async () => {
          await stopQuietly(g);
          this.skewed.delete(name);
          await startWithEnv(g, { [CRASH_POINT_ENV]: point });
          this.note(kind, `${g.domain} armed with ${point}`);
          const deadline = Date.now() + 60_000;
          while (g.running && Date.now() < deadline) await sleep(250);
          if (g.running) {
            this.log(`${g.domain} did not reach ${point} within 60 s; restarting it unarmed`);
            await stopQuietly(g);
          } else this.log(`${g.domain} died at ${point}: ${JSON.stringify(g.lastExit)}`);
          await g.start();
        });
        return;
      }
      case 'synapse-restart': {
        const down = rnd.int(1000, 8000);
        this.note(kind, `down for ${down} ms`);
        await this.w.restartSynapse(down);
        return;
      }
      case 'prosody-restart': {
        const down = rnd.int(1000, 8000);
        this.note(kind, `down for ${down} ms`);
        await this.w.restartProsody(down);
        return;
      }
      case 'proxy': {
        const links = [...this.w.proxies.keys()];
        const link = rnd.pick(links);
        const p = this.w.proxies.get(link)!;
        const rate = () => rnd.pick([0, 0, 0.02, 0.05, 0.2]);
        const settings: FaultSettings = {
          dropRate: rate(),
          up: { resetRate: rate(), truncateRate: rate(), stallRate: rate() / 2, delayMs: rnd.pick([0, 50, 500]) },
          down: { resetRate: rate(), truncateRate: rate(), stallRate: rate() / 2, delayMs: rnd.pick([0, 50, 500]) },
        };
        const ms = rnd.int(5000, 20_000);
        this.note(kind, `${link} for ${ms} ms: ${JSON.stringify(settings)}`);
        p.set(settings);
        await sleep(ms);
        p.heal();
        p.cutAll();
        return;
      }
      case 'http-burst': {
        const p = this.w.proxies.get('a>synapse')!;
        const status = rnd.pick([500, 502, 503, 429]);
        const ms = rnd.int(3000, 15_000);
        const retryAfterS = rnd.int(1, 3);
        this.note(kind, `A → Synapse answered ${status} (Retry-After ${retryAfterS} s) half the time for ${ms} ms`);
        p.set({ http: { rate: 0.5, status, retryAfterS } });
        await sleep(ms);
        p.heal();
        return;
      }
      case 'clock-skew': {
        const name = rnd.pick(this.upGateways());
        const g = this.w.gateways[name];
        const offset = rnd.pick([-1, 1]) * rnd.int(2, 30) * 1000;
        await this.on(g, async () => {
          await stopQuietly(g);
          await startWithEnv(g, { [CLOCK_OFFSET_ENV]: String(offset) });
          this.skewed.add(name);
          this.note(kind, `${g.domain} restarted with its clock ${offset} ms off`);
        });
        return;
      }
      case 'pg-restart': {
        const down = rnd.int(1000, 8000);
        const mode = rnd.pick(['fast', 'immediate'] as const);
        this.note(kind, `PostgreSQL stopped (${mode}) for ${down} ms`);
        await this.w.restartPostgres(down, mode);
        return;
      }
      case 'follower-down':
        return;
    }
  }

  private async takeFollowerDown(ms: number): Promise<void> {
    const g = this.w.gateways[C];
    this.downGateway = C;
    await this.on(g, async () => {
      await stopQuietly(g);
      this.skewed.delete(C);
      this.note('follower-down', `${C} stopped for ${ms} ms`);
      await sleep(ms);
      await g.start().catch((e: unknown) => this.log(`${C} did not come back: ${String(e)}`));
    });
    this.downGateway = undefined;
  }
}
