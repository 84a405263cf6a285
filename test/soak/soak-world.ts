/**
 * The soak's world (issue 14): everything real, as the headline e2e test runs it, plus a third
 * gateway and fault proxies on every link.
 *
 * - Synapse (scripts/synapse.sh) and Prosody (test/servers/prosody), on loopback;
 * - gateway A: `mimi-gateway start` with the Matrix bridge, on SQLite;
 * - gateway B: `mimi-gateway start` with the XMPP bridge (component mode), on PostgreSQL;
 * - gateway C: a memory-platform gateway (test/support/memory-gateway.ts), on PostgreSQL: the
 *   same cluster as B, its own database (two providers cannot share one database);
 * - a FaultProxy (test/support/fault-proxy.ts) on each MIMI link (every ordered pair of gateways),
 *   between A and Synapse and between B and Prosody's component port.
 *
 * Everything lives in one temp folder (kept with MIMI_E2E_KEEP=1). Needs `npx nest build` first.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { Client } from 'pg';
import { PROSODY_MUC_DOMAIN, ProsodyServer } from '../servers/prosody/prosody-server';
import { XmppTestUser } from '../servers/prosody/xmpp-test-user';
import { type MatrixUserClient, registerUser } from '../servers/synapse/synapse-server';
import { CliGatewayProcess } from '../e2e/support/cli-gateway-process';
import { MATRIX_IDS, type MatrixGateway, startMatrixGateway } from '../e2e/support/matrix-gateway';
import { XmppGatewayProcess } from '../e2e/support/xmpp-gateway-process';
import { BOT_NICK, COMPONENT_DOMAIN } from '../e2e/support/xmpp-mimi-env';
import { GatewayCluster, type GatewayProcess, LOOPBACK, repoRoot } from '../support/e2e-gateways';
import type { ProvisioningClient } from '../support/e2e-clients';
import { FaultProxy } from '../support/fault-proxy';

const run = promisify(execFile);
const PG_CLUSTER_SCRIPT = join(repoRoot(), 'scripts', 'pg-cluster.sh');

export const A = 'a.example';
export const B = 'b.example';
export const C = 'c.example';
export const GATEWAYS = [A, B, C] as const;
export type GatewayName = (typeof GATEWAYS)[number];

const BOB = { username: 'bob', password: 'bob-pw' };

/** Starting a gateway can take minutes when the machine is loaded (CI runners, shared hosts). */
const START_TIMEOUT_MS = 240_000;

/** Slower retries than the e2e default would hide nothing and cost time; keep them quick but bounded. */
const SOAK_OUTBOX = { initialBackoffMs: 200, maxBackoffMs: 5000, requestTimeoutMs: 10_000 };

/** Any of the three gateway processes: start, stop, kill, pid. */
export interface SoakGateway {
  readonly domain: string;
  readonly running: boolean;
  readonly pid: number | undefined;
  readonly adminUrl: string;
  readonly provisioning: ProvisioningClient;
  /** How the last run ended (undefined while running). */
  readonly lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  start(): Promise<unknown>;
  stop(timeoutMs?: number): Promise<unknown>;
  kill(): Promise<unknown>;
  logTail(lines?: number): string;
}

/**
 * Port clashes met on restarts (another process took a port of ours while the gateway was down),
 * and starts that failed otherwise (too slow on a loaded machine: the harness killed the process).
 */
export const startTrouble = { portClashes: 0, failedStarts: 0, failedSince: new Set<string>() };

/**
 * Start, retrying while a port of ours is taken: the ports are picked free once and kept across
 * restarts, and on a shared machine another test may hold one for a while when we come back.
 */
async function startRetrying(domain: string, start: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      startTrouble.failedSince.delete(domain);
      return;
    } catch (e) {
      if (!String(e).includes('EADDRINUSE') || attempt >= 20) {
        startTrouble.failedStarts += 1;
        startTrouble.failedSince.add(domain);
        throw e;
      }
      startTrouble.portClashes += 1;
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
}

/** The soak's view of a gateway process of either harness (memory platform, or `mimi-gateway start`). */
function soakGateway(g: GatewayProcess | CliGatewayProcess, adminUrl: string): SoakGateway {
  return {
    domain: g.domain,
    get running() {
      return g.running;
    },
    get pid() {
      return g.pid;
    },
    get lastExit() {
      return g.lastExit;
    },
    adminUrl,
    provisioning: g.provisioning,
    start: () => startRetrying(g.domain, () => g.start()),
    stop: (t) => g.stop(t),
    kill: () => g.kill(),
    logTail: (n) => g.logTail(n),
  };
}

/** SIGTERM `g` if it runs (SIGKILL when that fails); never throws. */
export async function stopQuietly(g: SoakGateway): Promise<void> {
  if (!g.running) return;
  await g.stop().catch(async () => {
    if (g.running) await g.kill().catch(() => undefined);
  });
}

/**
 * Start `g` with extra environment variables (a crash point, a clock offset) for this run only:
 * both process harnesses spawn synchronously inside start(), so the variables are set just around it.
 */
export function startWithEnv(g: SoakGateway, env: Record<string, string>): Promise<unknown> {
  const saved = Object.keys(env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, env);
  try {
    return g.start();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * The test cluster runs with synchronous_commit off (scripts/pg-cluster.sh: speed over durability).
 * The soak's pg-restart fault crashes the server (`pg_ctl -m immediate`), which loses commits whose
 * WAL was not yet written: a gateway would have acknowledged what the database then forgets. A
 * production database commits synchronously; so does the soak's.
 */
async function makeCommitsDurable(pgUrl: string): Promise<void> {
  const admin = new Client({ connectionString: pgUrl });
  await admin.connect();
  try {
    await admin.query('ALTER SYSTEM SET synchronous_commit = on');
    await admin.query('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
}

function patchYaml(file: string, patch: (config: Record<string, unknown>) => void): void {
  const config = YAML.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  patch(config);
  writeFileSync(file, YAML.stringify(config));
}

export class SoakWorld {
  readonly ids = MATRIX_IDS;
  readonly proxies = new Map<string, FaultProxy>();
  private synapseRestarts = 0;

  private constructor(
    readonly dir: string,
    readonly pgDir: string,
    readonly cluster: GatewayCluster,
    readonly matrix: MatrixGateway,
    readonly prosody: ProsodyServer,
    readonly gateways: Record<GatewayName, SoakGateway>,
    /** C's memory gateway (control API). */
    readonly c: GatewayProcess,
    readonly alice: MatrixUserClient,
    readonly bob: XmppTestUser,
  ) {}

  static async create(seed: number, log: (line: string) => void): Promise<SoakWorld> {
    const dir = mkdtempSync(join(tmpdir(), 'mimi-soak-'));
    // Its own temp folder: as root, pg-cluster.sh runs the server as `postgres`, which must reach it.
    const pgDir = mkdtempSync(join(tmpdir(), 'mimi-soak-pg-'));
    log(`world in ${dir}`);
    const pgUrl = execFileSync('bash', [PG_CLUSTER_SCRIPT, 'start', pgDir], { encoding: 'utf8' }).trim();
    await makeCommitsDurable(pgUrl);
    const urlOf = async (db: string): Promise<string> => {
      const admin = new Client({ connectionString: pgUrl });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${db}`);
      } finally {
        await admin.end();
      }
      const u = new URL(pgUrl);
      u.pathname = `/${db}`;
      return u.toString();
    };
    const cluster = await GatewayCluster.create({
      domains: [...GATEWAYS],
      outbox: SOAK_OUTBOX,
      logLevel: 'log',
      startTimeoutMs: START_TIMEOUT_MS,
    });

    // A fault proxy on every MIMI link: `from`'s peer entry for `to` points at it.
    const proxies = new Map<string, FaultProxy>();
    let n = 0;
    for (const from of GATEWAYS) {
      for (const to of GATEWAYS) {
        if (from === to) continue;
        const target = { host: LOOPBACK, port: cluster.gateway(to).ports.mimi };
        proxies.set(`${from}>${to}`, await FaultProxy.start({ target, seed: seed * 31 + n++, label: `${from}>${to}` }));
      }
    }
    const dbs = { [B]: await urlOf('soak_b'), [C]: await urlOf('soak_c') };
    for (const from of GATEWAYS) {
      patchYaml(cluster.gateway(from).configFile, (config) => {
        config['peers'] = GATEWAYS.filter((d) => d !== from).map((d) => ({
          domain: d,
          baseUrl: `https://${LOOPBACK}:${proxies.get(`${from}>${d}`)!.port}`,
        }));
        if (from !== A) config['database'] = { type: 'postgres', url: dbs[from] };
      });
    }

    const matrix = await startMatrixGateway(cluster, A);
    const a = new CliGatewayProcess({
      domain: A,
      dir: join(cluster.dir, A),
      configFile: matrix.gateway.configFile,
      adminUrl: matrix.gateway.adminUrl,
      adminToken: readFileSync(join(cluster.dir, A, 'admin.token'), 'utf8').trim(),
      startTimeoutMs: START_TIMEOUT_MS,
    });
    // A reaches Synapse through a proxy (5xx bursts, Retry-After, resets); Synapse reaches A directly.
    const synapsePort = Number(new URL(matrix.synapse.url).port);
    const toSynapse = await FaultProxy.start({ target: { host: LOOPBACK, port: synapsePort }, seed: seed * 31 + n++ });
    proxies.set('a>synapse', toSynapse);
    patchYaml(matrix.gateway.configFile, (config) => {
      (config['matrix'] as Record<string, unknown>)['homeserverUrl'] = `http://${LOOPBACK}:${toSynapse.port}`;
    });

    const prosody = await ProsodyServer.start({ componentDomain: COMPONENT_DOMAIN, accounts: [BOB] });
    const toProsody = await FaultProxy.start({
      target: { host: LOOPBACK, port: prosody.componentPort },
      seed: seed * 31 + n++,
    });
    proxies.set('b>prosody', toProsody);
    const xmpp = XmppGatewayProcess.create(
      cluster,
      B,
      {
        mode: 'component',
        service: `xmpp://${LOOPBACK}:${toProsody.port}`,
        componentDomain: COMPONENT_DOMAIN,
        botNick: BOT_NICK,
        links: [],
        mucService: PROSODY_MUC_DOMAIN,
      },
      prosody.componentSecret,
    );
    // The same process with a start timeout for a loaded machine.
    const b = new CliGatewayProcess({
      domain: B,
      dir: join(cluster.dir, B),
      configFile: xmpp.configFile,
      adminUrl: xmpp.adminUrl,
      adminToken: readFileSync(join(cluster.dir, B, 'admin.token'), 'utf8').trim(),
      startTimeoutMs: START_TIMEOUT_MS,
      logName: 'xmpp-gateway.log',
    });
    const c = cluster.gateway(C);
    const gateways: Record<GatewayName, SoakGateway> = {
      [A]: soakGateway(a, a.adminUrl),
      [B]: soakGateway(b, b.adminUrl),
      [C]: soakGateway(c, `http://${LOOPBACK}:${c.ports.admin}`),
    };
    await Promise.all(Object.values(gateways).map((g) => g.start()));
    const alice = await registerUser(matrix.synapse, 'alice');
    const bob = await XmppTestUser.connect(prosody.c2sService, BOB.username, BOB.password, { rejoin: true });
    const world = new SoakWorld(dir, pgDir, cluster, matrix, prosody, gateways, c, alice, bob);
    for (const [k, p] of proxies) world.proxies.set(k, p);
    return world;
  }

  /** The Matrix portal alias of a MIMI room on A. */
  portalAlias(roomUri: string): string {
    return this.ids.portalAlias(roomUri)!;
  }

  /** Stop and start Synapse on the same folder, port and shared secret (its data is kept). */
  async restartSynapse(downMs: number): Promise<void> {
    const s = this.matrix.synapse;
    await s.stop();
    await new Promise((r) => setTimeout(r, downMs));
    this.synapseRestarts += 1;
    await run('bash', [join(repoRoot(), 'scripts', 'synapse.sh'), 'start', s.dir, this.matrix.registrationFile], {
      env: {
        ...process.env,
        SYNAPSE_SERVER_NAME: s.serverName,
        SYNAPSE_PORT: new URL(s.url).port,
        SYNAPSE_SHARED_SECRET: s.sharedSecret,
      },
      timeout: 300_000,
    });
  }

  /**
   * Stop PostgreSQL (B's and C's database), wait, start it again on the same port and data. `fast`
   * ends every session cleanly; `immediate` is a crash (no checkpoint; recovery on start).
   */
  async restartPostgres(downMs: number, mode: 'fast' | 'immediate'): Promise<void> {
    await run('bash', [PG_CLUSTER_SCRIPT, 'halt', this.pgDir, mode], { timeout: 120_000 });
    await new Promise((r) => setTimeout(r, downMs));
    await run('bash', [PG_CLUSTER_SCRIPT, 'start', this.pgDir], { timeout: 300_000 });
  }

  /** Stop Prosody, wait, start it again on the same ports and data. */
  async restartProsody(downMs: number): Promise<void> {
    await this.prosody.halt('SIGTERM');
    await new Promise((r) => setTimeout(r, downMs));
    await this.prosody.launch();
  }

  /** The tails of every log, for a failure report. */
  logTails(lines = 40): string {
    return Object.values(this.gateways)
      .map((g) => `--- ${g.domain} ---\n${g.logTail(lines)}`)
      .join('\n');
  }

  /** Stop everything and remove the folder (kept with MIMI_E2E_KEEP=1). */
  async dispose(): Promise<void> {
    await Promise.all(Object.values(this.gateways).map((g) => stopQuietly(g)));
    await this.bob.stop();
    await this.matrix.synapse.stop().catch(() => undefined);
    await this.prosody.stop().catch(() => undefined);
    for (const p of this.proxies.values()) await p.close();
    await this.cluster.dispose();
    execFileSync('bash', [PG_CLUSTER_SCRIPT, 'stop', this.pgDir]);
    rmSync(this.pgDir, { recursive: true, force: true });
    if (process.env.MIMI_E2E_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
  }
}
