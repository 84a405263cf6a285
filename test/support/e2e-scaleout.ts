/**
 * Scale-out harness for the end-to-end test and the scale-out bench: provider A served by TWO
 * memory gateway processes (a1, a2) that share one PostgreSQL database (`cluster.enabled`), and
 * provider B by one process, all on loopback.
 *
 * Each A process has its own memory platform (its own journal): together they stand for the one
 * legacy platform of A, and `ScaleOutCluster.post` is its delivery, as a homeserver's appservice
 * transactions are: a room's event goes to the process that owns the room and, when that one
 * refuses it (`GW_ROOM_ELSEWHERE`) or is gone, again (same platform event ID) to the other, until
 * one takes it. Legacy rooms are created on both.
 *
 * PostgreSQL: the cluster named by MIMI_TEST_PG_URL, else a throwaway one started here.
 * Needs `npx nest build` first.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ErrorCode } from '../../src/common/errors';
import { HttpError, type NativeUser } from './e2e-clients';
import { GatewayCluster, GatewayProcess, type OutboxTuning, freePorts, repoRoot } from './e2e-gateways';
import { TEST_PG_URL_ENV } from './pg-env';
import { withPgClient } from './test-data-source';

const A = 'a.example';
export const B = 'b.example';

export interface ScaleOutOptions {
  /** `cluster.leaseTtlMs` of the A processes. */
  readonly leaseTtlMs: number;
  readonly outbox?: OutboxTuning;
  readonly logLevel?: 'error' | 'warn' | 'log' | 'debug';
}

/** One lease row as the database holds it. */
export interface LeaseRow {
  readonly roomUri: string;
  readonly owner: string;
  readonly epoch: number;
  readonly expiresAt: number;
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class ScaleOutCluster {
  /** Platform event IDs delivered per process (which one took each). */
  readonly takenBy = new Map<string, 'a1' | 'a2'>();
  /** How many deliveries a process refused with GW_ROOM_ELSEWHERE (another one owned the room). */
  refusals = 0;
  private killedA1 = false;

  private constructor(
    readonly cluster: GatewayCluster,
    readonly a1: GatewayProcess,
    readonly a2: GatewayProcess,
    readonly b: GatewayProcess | undefined,
    private readonly dbUrl: string,
    private readonly dropDb: () => Promise<void>,
    private readonly stopPg: () => void,
  ) {}

  /** Write the configs (A on PostgreSQL with scale-out; B on SQLite, unless `withB` is false). Starts nothing. */
  static async create(opts: ScaleOutOptions & { withB?: boolean }): Promise<ScaleOutCluster> {
    let pgUrl = process.env[TEST_PG_URL_ENV];
    let stopPg = (): void => {};
    // From the repository root: this file also runs compiled, from dist/ (the bench).
    const script = join(repoRoot(), 'scripts', 'pg-cluster.sh');
    if (!pgUrl) {
      const dir = mkdtempSync(join(tmpdir(), 'mimi-scaleout-pg-'));
      pgUrl = execFileSync('bash', [script, 'start', dir], { encoding: 'utf8' }).trim();
      stopPg = () => execFileSync('bash', [script, 'stop', dir], { stdio: 'ignore' });
    }
    const name = `scaleout_${randomBytes(6).toString('hex')}`;
    await withPgClient(pgUrl, (c) => c.query(`CREATE DATABASE ${name}`));
    const url = new URL(pgUrl);
    url.pathname = `/${name}`;
    const dbUrl = url.toString();
    const adminUrl = pgUrl;
    const dropDb = (): Promise<void> =>
      withPgClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined);

    const domains = opts.withB === false ? [A] : [A, B];
    const cluster = await GatewayCluster.create({ domains, outbox: opts.outbox, logLevel: opts.logLevel });
    const a1 = cluster.gateway(A);
    const base = YAML.parse(readFileSync(a1.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
    const clusterSection = (processName: string) => ({
      enabled: true,
      processName,
      leaseTtlMs: opts.leaseTtlMs,
      // Every process runs its (memory) platform; `post` delivers each room's events to its owner.
      ingress: 'every',
    });
    const a1Config = {
      ...base,
      database: { type: 'postgres', url: dbUrl, poolSize: 8 },
      cluster: clusterSection('a1'),
    };
    writeFileSync(a1.configFile, YAML.stringify(a1Config));

    const [mimi, admin, control] = await freePorts(3);
    const dir2 = join(cluster.dir, `${A}-2`);
    mkdirSync(dir2, { recursive: true });
    const a2Config = {
      ...a1Config,
      listen: { ...base.listen, port: mimi },
      admin: { ...base.admin, port: admin },
      cluster: clusterSection('a2'),
    };
    const config2 = join(dir2, 'gateway.yaml');
    writeFileSync(config2, YAML.stringify(a2Config));
    const token = readFileSync(join(a1.dir, 'admin.token'), 'utf8');
    const a2 = new GatewayProcess(
      A,
      dir2,
      config2,
      { mimi: mimi!, admin: admin!, control: control! },
      a1.identity,
      token,
      60_000,
    );
    const b = opts.withB === false ? undefined : cluster.gateway(B);
    return new ScaleOutCluster(cluster, a1, a2, b, dbUrl, dropDb, stopPg);
  }

  /** The A process of a name. */
  process(name: 'a1' | 'a2'): GatewayProcess {
    return name === 'a1' ? this.a1 : this.a2;
  }

  /** SIGKILL a1; from now on `post` sends to a2 only. */
  async killA1(): Promise<void> {
    this.killedA1 = true;
    await this.a1.kill();
  }

  /** Create a legacy room of A, on both processes' platforms. */
  async createRoom(roomId: string, members: readonly (NativeUser & { role?: string })[]): Promise<void> {
    for (const g of [this.a1, this.a2]) {
      if (g.running) await g.control.createRoom(roomId, { members: members as never });
    }
  }

  /**
   * Deliver a native user's post in an A room as the platform does: to `first` (the owner, as far
   * as the caller knows), and again with the same event ID to the other process while it is refused
   * or the process is gone. Resolves with the process that took it.
   */
  async post(first: 'a1' | 'a2', roomId: string, sender: NativeUser, text: string, platformEventId: string) {
    let target = this.killedA1 ? 'a2' : first;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.process(target).control.send(
          roomId,
          sender,
          { type: 'post', body: { kind: 'text', text } },
          platformEventId,
        );
        this.takenBy.set(platformEventId, target);
        return target;
      } catch (e) {
        const elsewhere = e instanceof HttpError && e.errcode === ErrorCode.RoomElsewhere;
        const gone = !(e instanceof HttpError);
        if (!elsewhere && !gone) throw e;
        if (elsewhere) this.refusals += 1;
        if (attempt > 2000) throw e;
        target = this.killedA1 ? 'a2' : target === 'a1' ? 'a2' : 'a1';
        await pause(elsewhere ? 100 : 20);
      }
    }
  }

  /** Every row of `room_lease`. */
  leases(): Promise<LeaseRow[]> {
    return withPgClient(this.dbUrl, async (c) => {
      const r = await c.query<{ room_uri: string; owner: string; epoch: string; expires_at: string }>(
        'SELECT room_uri, owner, epoch, expires_at FROM room_lease ORDER BY room_uri',
      );
      return r.rows.map((x) => ({
        roomUri: x.room_uri,
        owner: x.owner,
        epoch: Number(x.epoch),
        expiresAt: Number(x.expires_at),
      }));
    });
  }

  logTails(): string {
    return `${this.cluster.logTails()}\n--- a2 log tail (${this.a2.logFile}) ---\n${this.a2.logTail()}`;
  }

  async dispose(): Promise<void> {
    if (this.a2.running) await this.a2.stop().catch(() => this.a2.kill());
    await this.cluster.dispose();
    await this.dropDb().catch(() => undefined);
    this.stopPg();
  }
}
