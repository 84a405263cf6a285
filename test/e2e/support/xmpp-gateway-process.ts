/**
 * A real `mimi-gateway start` process (bin/mimi-gateway.js, the compiled CLI) whose config has an
 * `xmpp:` section, for end-to-end tests and the XMPP bench. Its MIMI side comes from a
 * GatewayCluster (test/support/e2e-gateways.ts): the cluster already wrote a config for the
 * domain (ports, certificates, peers, admin token); `XmppGatewayProcess.create` copies it with
 * the `xmpp:` section added and never starts the cluster's memory gateway for that domain.
 *
 *   const a = XmppGatewayProcess.create(cluster, 'a.example', { mode: 'component', ... }, secret);
 *   await a.start();                 // resolves once the admin listener answers
 *   await a.kill();                  // SIGKILL; a.start() again on the same database and state
 *
 * Output goes to `<cluster dir>/<domain>/xmpp-gateway.log`. Needs `npx tsc -p tsconfig.build.json`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { WriteStream, createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import YAML from 'yaml';
import { ProvisioningClient } from '../../support/e2e-clients';
import { type ExitStatus, GatewayCluster, LOOPBACK, repoRoot, tailFile } from '../../support/e2e-gateways';
import { waitFor, withContext } from '../../support/e2e-wait';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

/** The `xmpp:` section of the gateway config (src/config/gateway-config.ts XmppConfig), minus the secret file. */
export interface XmppSection {
  readonly mode: 'component' | 'relay';
  readonly service: string;
  readonly componentDomain?: string;
  readonly jid?: string;
  readonly botNick: string;
  readonly links: readonly string[];
  readonly mucService?: string;
}

/** Children of every XmppGatewayProcess in this process, killed if the test process exits abruptly. */
const LIVE = new Set<ChildProcess>();
let exitHook = false;

export class XmppGatewayProcess {
  readonly provisioning: ProvisioningClient;
  /** How many times the process was started. */
  starts = 0;
  private child?: ChildProcess;
  private exited?: Promise<ExitStatus>;
  private log?: WriteStream;

  private constructor(
    readonly domain: string,
    readonly dir: string,
    readonly configFile: string,
    readonly adminUrl: string,
    token: string,
  ) {
    this.provisioning = new ProvisioningClient(adminUrl, token);
  }

  /**
   * Write `<dir>/xmpp-gateway.yaml`: the cluster's config for `domain` plus `xmpp` (the secret,
   * component secret or relay password, goes to a 0600 file next to it).
   */
  static create(cluster: GatewayCluster, domain: string, xmpp: XmppSection, secret: string): XmppGatewayProcess {
    const dir = join(cluster.dir, domain);
    const base = YAML.parse(readFileSync(join(dir, 'gateway.yaml'), 'utf8')) as {
      admin: { host: string; port: number; tokenFile: string };
    };
    const secretFile = join(dir, 'xmpp-secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    const config = {
      ...base,
      xmpp: { ...xmpp, links: [...xmpp.links], secretFile, stateFile: join(dir, 'xmpp-state.json') },
    };
    const configFile = join(dir, 'xmpp-gateway.yaml');
    writeFileSync(configFile, YAML.stringify(config));
    const token = readFileSync(base.admin.tokenFile, 'utf8').trim();
    return new XmppGatewayProcess(domain, dir, configFile, `http://${LOOPBACK}:${base.admin.port}`, token);
  }

  get logFile(): string {
    return join(this.dir, 'xmpp-gateway.log');
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * `node bin/mimi-gateway.js start -c <config>`; resolves once the admin listener answers
   * `/health` (the bridges have started by then: the rooms core starts them before the listeners).
   * @throws Error with the log tail when the process exits or does not answer in time
   */
  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.domain} is already running (pid ${this.child.pid})`);
    const cli = join(repoRoot(), 'bin', 'mimi-gateway.js');
    if (!existsSync(join(repoRoot(), 'dist', 'src', 'cli', 'main.js'))) {
      throw new Error('dist/src/cli/main.js is missing: run `npx tsc -p tsconfig.build.json` first');
    }
    this.starts += 1;
    const log = createWriteStream(this.logFile, { flags: 'a' });
    this.log = log;
    log.write(
      `\n===== ${new Date().toISOString()} start #${this.starts} of ${this.domain} (mimi-gateway start) =====\n`,
    );
    const child = spawn(process.execPath, ['--enable-source-maps', cli, 'start', '-c', this.configFile], {
      cwd: this.dir,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => LIVE.forEach((c) => c.kill('SIGKILL')));
    }
    LIVE.add(child);
    child.stdout?.on('data', (chunk: Buffer) => log.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
    this.exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        LIVE.delete(child);
        if (this.child === child) this.child = undefined;
        log.write(`===== exited: code ${code} signal ${signal} =====\n`);
        log.end();
        resolve({ code, signal });
      });
    });
    try {
      await waitFor(
        async () => {
          if (this.child !== child) throw new Error(`${this.domain} exited during start`);
          const res = await request(`${this.adminUrl}/health`);
          await res.body.dump();
          return res.statusCode === 200;
        },
        { timeoutMs: START_TIMEOUT_MS, intervalMs: 100, what: `${this.domain}'s admin listener` },
      );
    } catch (e) {
      if (this.child === child) await this.kill();
      throw withContext(e, `--- ${this.domain} log tail (${this.logFile}) ---\n${this.logTail()}`);
    }
  }

  /** SIGTERM and wait; SIGKILL after a timeout. */
  async stop(): Promise<ExitStatus> {
    const child = this.child;
    if (!child || !this.exited) throw new Error(`${this.domain} is not running`);
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), STOP_TIMEOUT_MS)));
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') return this.kill();
    return result;
  }

  /** SIGKILL (no chance to clean up) and wait for the exit. */
  async kill(): Promise<ExitStatus> {
    const child = this.child;
    if (!child || !this.exited) throw new Error(`${this.domain} is not running`);
    child.kill('SIGKILL');
    return this.exited;
  }

  logTail(lines = 80): string {
    return tailFile(this.logFile, lines);
  }
}
