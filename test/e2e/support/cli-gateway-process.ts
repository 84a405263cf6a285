/**
 * A real `mimi-gateway start -c <config>` process (bin/mimi-gateway.js, the compiled CLI under
 * dist/), for end-to-end tests and benches that need the production composition root: the bridges
 * come from the config (`bridgesFromConfig`), not from a test harness. Used with a `matrix:`
 * section (matrix-mimi-env.ts) and an `xmpp:` section (xmpp-gateway-process.ts).
 *
 *   const gw = new CliGatewayProcess({ domain, dir, configFile, adminUrl, adminToken });
 *   await gw.start();          // resolves once the admin listener answers /health
 *   await gw.kill();           // SIGKILL, no chance to clean up
 *   await gw.start();          // same config, same database
 *   await gw.stop();           // SIGTERM
 *
 * Output goes to `<dir>/<logName>` (default gateway.log, appended across restarts). Needs a build first
 * (`npx tsc -p tsconfig.build.json`).
 */
import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { ProvisioningClient } from '../../support/e2e-clients';
import { repoRoot, tailFile } from '../../support/e2e-gateways';
import { waitFor, withContext } from '../../support/e2e-wait';
import { type ExitStatus, SupervisedChild } from '../../support/supervised-child';

const DEFAULT_START_TIMEOUT_MS = 90_000;
const HEALTH_POLL_MS = 100;

/** The compiled CLI launcher; fails early with the build command when dist/ is missing. */
export function gatewayCliEntrypoint(): string {
  const root = repoRoot();
  const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run \`npx tsc -p tsconfig.build.json\` first`);
  return join(root, 'bin', 'mimi-gateway.js');
}

export interface CliGatewayProcessOptions {
  readonly domain: string;
  /** Working directory of the process; the log goes there. */
  readonly dir: string;
  readonly configFile: string;
  /** http://host:port of the admin listener (health and provisioning). */
  readonly adminUrl: string;
  readonly adminToken: string;
  readonly startTimeoutMs?: number;
  /** File name of the log in `dir` (default gateway.log). */
  readonly logName?: string;
}

export class CliGatewayProcess {
  readonly provisioning: ProvisioningClient;
  /** How many times the process was started. */
  starts = 0;
  private readonly proc: SupervisedChild;

  constructor(private readonly opts: CliGatewayProcessOptions) {
    this.proc = new SupervisedChild(opts.domain);
    this.provisioning = new ProvisioningClient(opts.adminUrl, opts.adminToken);
  }

  get domain(): string {
    return this.opts.domain;
  }

  get configFile(): string {
    return this.opts.configFile;
  }

  get adminUrl(): string {
    return this.opts.adminUrl;
  }

  get logFile(): string {
    return join(this.opts.dir, this.opts.logName ?? 'gateway.log');
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

  /**
   * Spawn `mimi-gateway start -c <config>` and resolve once its admin listener answers /health
   * with 200 (the bridges start before the listeners, so the appservice is listening too); with
   * `untilHealthy: false`, once it answers at all (a 503 while a platform is down). `env` is added
   * to the process's environment for this run (e.g. a crash point to arm).
   * @throws Error with the log tail when the process exits or stays unhealthy too long.
   */
  async start(
    opts: { readonly untilHealthy?: boolean; readonly env?: Readonly<Record<string, string>> } = {},
  ): Promise<void> {
    const untilHealthy = opts.untilHealthy ?? true;
    if (this.proc.running) throw new Error(`${this.domain} is already running (pid ${this.proc.pid})`);
    this.starts += 1;
    const log = createWriteStream(this.logFile, { flags: 'a' });
    log.write(`\n===== ${new Date().toISOString()} mimi-gateway start #${this.starts} of ${this.domain} =====\n`);
    const child = this.proc.spawn(
      process.execPath,
      [
        '--enable-source-maps',
        // Extra node flags for profiling runs, as for the memory gateways (MIMI_E2E_NODE_ARGS=--cpu-prof).
        ...(process.env['MIMI_E2E_NODE_ARGS']?.split(' ').filter(Boolean) ?? []),
        gatewayCliEntrypoint(),
        'start',
        '-c',
        this.opts.configFile,
      ],
      {
        cwd: this.opts.dir,
        env: { ...process.env, NO_COLOR: '1', ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
      log,
    );
    try {
      await waitFor(
        async () => {
          if (!this.proc.isCurrent(child)) return true; // exited: no point waiting out the timeout
          const res = await request(`${this.opts.adminUrl}/health`);
          await res.body.text();
          return res.statusCode === 200 || (!untilHealthy && res.statusCode === 503);
        },
        {
          timeoutMs: this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
          intervalMs: HEALTH_POLL_MS,
          what: `${this.domain} ${untilHealthy ? 'healthy' : 'answering /health'}`,
        },
      );
      if (!this.proc.isCurrent(child)) {
        throw new Error(`${this.domain} exited during start-up (${JSON.stringify(this.lastExit)})`);
      }
    } catch (e) {
      if (this.proc.isCurrent(child)) await this.kill();
      throw withContext(e, `--- ${this.domain} log tail (${this.logFile}) ---\n${this.logTail()}`);
    }
  }

  /** SIGTERM and wait; SIGKILL after timeoutMs. */
  stop(timeoutMs?: number): Promise<ExitStatus> {
    return this.proc.stop(timeoutMs);
  }

  /** SIGKILL and wait for the exit. */
  kill(): Promise<ExitStatus> {
    return this.proc.kill();
  }

  logTail(lines?: number): string {
    return tailFile(this.logFile, lines);
  }
}
