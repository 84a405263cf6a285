/**
 * Multi-process harness for end-to-end tests and the rooms bench: N memory gateway processes
 * (test/support/memory-gateway.ts, built to dist/) on loopback, talking MIMI to each other over
 * mutual TLS with certificates generated at test start.
 *
 *   const cluster = await GatewayCluster.create({ domains: ['a.example', 'b.example'] });
 *   await cluster.startAll();
 *   const a = cluster.gateway('a.example');
 *   await a.control.createRoom('!club', { members: [ALICE] });
 *   const roomUri = await a.provisioning.linkRoom('memory', '!club');
 *   ...
 *   await cluster.dispose();
 *
 * Each gateway gets its own directory in a temp dir (config, SQLite database, platform journal,
 * log). Ports are picked free before the processes start (port 0 cannot be used: the peers
 * tables must name each other's ports) and kept across restarts. Processes can be stopped
 * (SIGTERM), killed (SIGKILL) and restarted on the same database and platform journal. Every
 * process's output goes to `<dir>/<domain>/gateway.log`; `cluster.scenario(fn)` appends the tail
 * of every log to the error of a failing test.
 *
 * Needs `npx nest build` first (the processes run the compiled gateway).
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { writeDevPki } from '../../registration/dev-ca';
import { ControlClient, ProviderIdentity, ProvisioningClient, RawMimiClient } from './e2e-clients';
import { TapProxy } from './e2e-tap';
import { withContext, withFailureContext } from './e2e-wait';
import type { ReadyInfo } from './memory-gateway';
import { type ExitStatus, SupervisedChild } from './supervised-child';

export type { ExitStatus } from './supervised-child';

/** The provider domains the harness knows (certificates carry loopback IP SANs too). */
export const E2E_DOMAINS = ['a.example', 'b.example', 'c.example', 'd.example'] as const;
export const LOOPBACK = '127.0.0.1';
export const MEMORY_PLATFORM = 'memory';
const READY_MARKER = 'MIMI-TEST-GATEWAY READY';
const DEFAULT_START_TIMEOUT_MS = 60_000;
const LOG_TAIL_LINES = 60;

export interface OutboxTuning {
  readonly concurrency?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly requestTimeoutMs?: number;
  readonly pollIntervalMs?: number;
  readonly batchSize?: number;
  readonly coalesceMaxMessages?: number;
  readonly coalesceMaxBytes?: number;
}

export interface ClusterOptions {
  /** Providers to run, e.g. ['a.example', 'b.example']. */
  readonly domains: readonly string[];
  /** Links to route through a recording TapProxy: `from`'s peer entry for `to` points at the tap. */
  readonly taps?: readonly { readonly from: string; readonly to: string }[];
  /** Outbox settings for every gateway (defaults: quick retries for tests). */
  readonly outbox?: OutboxTuning;
  readonly logLevel?: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  /** Keep the temp dir after dispose (also when MIMI_E2E_KEEP=1). */
  readonly keepDir?: boolean;
  readonly startTimeoutMs?: number;
  /** Per provider: the address domains its peers' entries for it list (`peers[].addressDomains`: invites by address). */
  readonly addressDomains?: Readonly<Record<string, readonly string[]>>;
}

/** Quick retries so that a follower coming back is found within a second or two. */
const TEST_OUTBOX: Required<OutboxTuning> = {
  concurrency: 8,
  initialBackoffMs: 100,
  maxBackoffMs: 1000,
  requestTimeoutMs: 10_000,
  pollIntervalMs: 200,
  batchSize: 50,
  coalesceMaxMessages: 32,
  coalesceMaxBytes: 262144,
};

/** The repository root (the directory holding package.json), from src or from dist. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/** The compiled memory gateway entrypoint. */
function memoryGatewayEntrypoint(): string {
  const file = join(repoRoot(), 'dist', 'test', 'support', 'memory-gateway.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npx nest build\` first`);
  return file;
}

/** `count` distinct free TCP ports on loopback (held open together, so they differ, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const s = createServer();
      s.listen(0, LOOPBACK);
      await once(s, 'listening');
      servers.push(s);
    }
    return servers.map((s) => {
      const address = s.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** The last `lines` lines of a file ('' when it does not exist). */
export function tailFile(file: string, lines = LOG_TAIL_LINES): string {
  if (!existsSync(file)) return '';
  const all = readFileSync(file, 'utf8').split('\n');
  return all.slice(Math.max(0, all.length - lines - 1)).join('\n');
}

export interface GatewayPorts {
  readonly mimi: number;
  readonly admin: number;
  readonly control: number;
}

/** One gateway process: its files, ports and clients; start/stop/kill/restart. */
export class GatewayProcess {
  readonly control: ControlClient;
  readonly provisioning: ProvisioningClient;
  /** How many times the process was started. */
  starts = 0;
  private readonly proc: SupervisedChild;
  private ready?: ReadyInfo;

  constructor(
    readonly domain: string,
    readonly dir: string,
    readonly configFile: string,
    readonly ports: GatewayPorts,
    readonly identity: ProviderIdentity,
    token: string,
    private readonly startTimeoutMs: number,
  ) {
    this.proc = new SupervisedChild(domain);
    this.control = new ControlClient(`http://${LOOPBACK}:${ports.control}`);
    this.provisioning = new ProvisioningClient(`http://${LOOPBACK}:${ports.admin}`, token);
  }

  get logFile(): string {
    return join(this.dir, 'gateway.log');
  }

  get databaseFile(): string {
    return join(this.dir, 'gateway.sqlite');
  }

  get journalFile(): string {
    return join(this.dir, 'platform.jsonl');
  }

  /** https://127.0.0.1:<port> of the MIMI listener. */
  get mimiUrl(): string {
    return `https://${LOOPBACK}:${this.ports.mimi}`;
  }

  get running(): boolean {
    return this.proc.running;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** How the last run ended (undefined while running or before the first start). */
  get lastExit(): ExitStatus | undefined {
    return this.proc.lastExit;
  }

  /** What the process printed on its READY line. */
  get readyInfo(): ReadyInfo | undefined {
    return this.ready;
  }

  /**
   * Spawn the process and resolve once it printed its READY line. `env`: extra environment
   * variables for this run only (a crash point, a clock offset).
   * @throws Error (with the log tail) when it exits or stays silent for startTimeoutMs.
   */
  async start(env: Readonly<Record<string, string>> = {}): Promise<ReadyInfo> {
    if (this.proc.running) throw new Error(`${this.domain} is already running (pid ${this.proc.pid})`);
    this.starts += 1;
    const log = createWriteStream(this.logFile, { flags: 'a' });
    log.write(`\n===== ${new Date().toISOString()} start #${this.starts} of ${this.domain} =====\n`);
    const child = this.proc.spawn(
      process.execPath,
      [
        '--enable-source-maps',
        // Extra node flags for profiling runs, e.g. MIMI_E2E_NODE_ARGS=--prof.
        ...(process.env['MIMI_E2E_NODE_ARGS']?.split(' ').filter(Boolean) ?? []),
        memoryGatewayEntrypoint(),
        '--config',
        this.configFile,
      ],
      {
        cwd: this.dir,
        env: {
          ...process.env,
          MIMI_TEST_CONTROL_PORT: String(this.ports.control),
          MIMI_TEST_PLATFORM_JOURNAL: this.journalFile,
          MIMI_TEST_EXIT_WITH_PARENT: '1',
          NO_COLOR: '1',
          ...env,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
      log,
      true,
    );

    const readyLine = new Promise<ReadyInfo>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(
        () => reject(new Error(`${this.domain}: no READY line within ${this.startTimeoutMs} ms`)),
        this.startTimeoutMs,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        log.write(chunk);
        if (this.ready && this.proc.isCurrent(child)) return;
        buffered += chunk.toString('utf8');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const at = line.indexOf(READY_MARKER);
          if (at >= 0) {
            clearTimeout(timer);
            try {
              resolve(JSON.parse(line.slice(at + READY_MARKER.length)) as ReadyInfo);
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          }
        }
      });
      void this.proc.whenExited()?.then((s) => {
        clearTimeout(timer);
        reject(new Error(`${this.domain} exited before READY (code ${s.code}, signal ${s.signal})`));
      });
    });
    this.ready = undefined;
    try {
      this.ready = await readyLine;
    } catch (e) {
      if (this.proc.isCurrent(child)) await this.kill();
      throw withContext(e, `--- ${this.domain} log tail (${this.logFile}) ---\n${tailFile(this.logFile)}`);
    }
    return this.ready;
  }

  /**
   * SIGTERM and wait for the exit. Resolves with how it ended.
   * @throws Error when it did not exit within timeoutMs (it is then SIGKILLed).
   */
  stop(timeoutMs?: number): Promise<ExitStatus> {
    return this.proc.stop(timeoutMs);
  }

  /** SIGKILL (no chance to clean up) and wait for the exit. */
  kill(): Promise<ExitStatus> {
    return this.proc.kill();
  }

  /** Stop (SIGTERM) if running, then start again on the same database and platform journal. */
  async restart(): Promise<ReadyInfo> {
    if (this.running) await this.stop();
    return this.start();
  }

  logTail(lines = LOG_TAIL_LINES): string {
    return tailFile(this.logFile, lines);
  }
}

/** A set of gateway processes that peer with each other. */
export class GatewayCluster {
  private readonly gateways = new Map<string, GatewayProcess>();
  private readonly taps = new Map<string, TapProxy>();
  private disposed = false;

  private constructor(
    readonly dir: string,
    readonly caPem: string,
    private readonly opts: ClusterOptions,
  ) {}

  /**
   * Generate the PKI, pick ports, write every gateway's config and start the taps. Does not start
   * the gateways (startAll / gateway(d).start()).
   */
  static async create(opts: ClusterOptions): Promise<GatewayCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'mimi-e2e-'));
    const pki = await writeDevPki(join(dir, 'tls'), opts.domains, { ipAddresses: [LOOPBACK, '::1'] });
    const caPem = readFileSync(pki.caCertFile, 'utf8');
    const cluster = new GatewayCluster(dir, caPem, opts);
    const taps = opts.taps ?? [];
    const ports = await freePorts(opts.domains.length * 3 + taps.length);
    const portsOf = new Map<string, GatewayPorts>(
      opts.domains.map((d, i) => [d, { mimi: ports[i * 3]!, admin: ports[i * 3 + 1]!, control: ports[i * 3 + 2]! }]),
    );
    const tapPorts = new Map(taps.map((t, i) => [`${t.from}>${t.to}`, ports[opts.domains.length * 3 + i]!]));
    const identity = (d: string): ProviderIdentity => {
      const files = pki.providers[d];
      if (!files) throw new Error(`no certificate for ${d}`);
      return { domain: d, certPem: readFileSync(files.certFile, 'utf8'), keyPem: readFileSync(files.keyFile, 'utf8') };
    };
    const outbox = { ...TEST_OUTBOX, ...(opts.outbox ?? {}) };

    for (const domain of opts.domains) {
      const own = portsOf.get(domain)!;
      const gwDir = join(dir, domain);
      mkdirSync(gwDir, { recursive: true });
      const token = randomBytes(16).toString('hex');
      writeFileSync(join(gwDir, 'admin.token'), token, { mode: 0o600 });
      const peers = opts.domains
        .filter((d) => d !== domain)
        .map((d) => {
          const tapPort = tapPorts.get(`${domain}>${d}`);
          const addressDomains = opts.addressDomains?.[d];
          return {
            domain: d,
            baseUrl: `https://${LOOPBACK}:${tapPort ?? portsOf.get(d)!.mimi}`,
            ...(addressDomains ? { addressDomains: [...addressDomains] } : {}),
          };
        });
      const config = {
        provider: { domain },
        listen: { host: LOOPBACK, port: own.mimi },
        tls: {
          certFile: pki.providers[domain]!.certFile,
          keyFile: pki.providers[domain]!.keyFile,
          caFiles: [pki.caCertFile],
        },
        database: { type: 'better-sqlite3', path: join(gwDir, 'gateway.sqlite') },
        peers,
        outbox,
        logging: { level: opts.logLevel ?? 'log', json: false },
        admin: { enabled: true, host: LOOPBACK, port: own.admin, tokenFile: join(gwDir, 'admin.token') },
      };
      const configFile = join(gwDir, 'gateway.yaml');
      writeFileSync(configFile, YAML.stringify(config));
      cluster.gateways.set(
        domain,
        new GatewayProcess(
          domain,
          gwDir,
          configFile,
          own,
          identity(domain),
          token,
          opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
        ),
      );
    }
    for (const t of taps) {
      const target = portsOf.get(t.to);
      if (!target) throw new Error(`tap ${t.from} → ${t.to}: ${t.to} is not in the cluster`);
      const tap = await TapProxy.start({
        from: identity(t.from),
        to: identity(t.to),
        caPem,
        port: tapPorts.get(`${t.from}>${t.to}`)!,
        targetUrl: () => `https://${LOOPBACK}:${target.mimi}`,
      });
      cluster.taps.set(`${t.from}>${t.to}`, tap);
    }
    return cluster;
  }

  get domains(): string[] {
    return [...this.gateways.keys()];
  }

  gateway(domain: string): GatewayProcess {
    const g = this.gateways.get(domain);
    if (!g) throw new Error(`${domain} is not in this cluster (${this.domains.join(', ')})`);
    return g;
  }

  /** The recording tap on the link from → to (declared in ClusterOptions.taps). */
  tap(from: string, to: string): TapProxy {
    const t = this.taps.get(`${from}>${to}`);
    if (!t) throw new Error(`no tap on ${from} → ${to}`);
    return t;
  }

  /** Start every gateway that is not running, in parallel. */
  async startAll(): Promise<void> {
    await Promise.all([...this.gateways.values()].filter((g) => !g.running).map((g) => g.start()));
  }

  /** SIGTERM every running gateway and wait for them. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.gateways.values()].filter((g) => g.running).map((g) => g.stop()));
  }

  /** A raw MIMI client holding `as`'s certificate, talking to `to`'s gateway directly (no tap). */
  rawClient(as: string, to: string): RawMimiClient {
    return new RawMimiClient(this.gateway(as).identity, to, this.gateway(to).mimiUrl, this.caPem);
  }

  /** The tail of every gateway's log, for a failure report. */
  logTails(lines = LOG_TAIL_LINES): string {
    return [...this.gateways.values()]
      .map((g) => `--- ${g.domain} log tail (${g.logFile}) ---\n${g.logTail(lines)}`)
      .join('\n');
  }

  /** Wrap a test body: when it fails, the error carries the tail of every gateway's log. */
  scenario(body: () => Promise<void>): () => Promise<void> {
    return withFailureContext(body, () => this.logTails());
  }

  /**
   * Stop everything (SIGTERM, SIGKILL when stuck), close the taps, remove the temp dir unless
   * keepDir / MIMI_E2E_KEEP=1.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(
      [...this.gateways.values()]
        .filter((g) => g.running)
        .map((g) => g.stop().catch(() => (g.running ? g.kill() : undefined))),
    );
    await Promise.all([...this.taps.values()].map((t) => t.close()));
    if (this.opts.keepDir || process.env.MIMI_E2E_KEEP === '1') return;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A test body for a cluster created in `beforeAll`: when it fails, the error carries the tail of
 * every gateway's log (`cluster.scenario`).
 *   it('…', withClusterLogs(() => cluster, async (c) => { … }));
 */
export function withClusterLogs(
  get: () => GatewayCluster | undefined,
  body: (cluster: GatewayCluster) => Promise<void>,
): () => Promise<void> {
  return async () => {
    const cluster = get();
    if (!cluster) throw new Error('the cluster was not created (see the beforeAll error)');
    await cluster.scenario(() => body(cluster))();
  };
}
