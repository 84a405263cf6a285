/**
 * A throwaway Prosody (Debian's `prosody` package, 0.12) for the XMPP bridge's end-to-end tests:
 * a config in a temp folder with loopback c2s and component ports, a MUC service with XEP-0313
 * archives, XEP-0198 stream management, our generated component section
 * (registration/generate-xmpp-component-config.ts), test accounts made with prosodyctl, data in
 * the temp folder, no TLS (plain loopback), an XEP-0363 upload service (mod_http_file_share) on a
 * loopback HTTP port (`httpUpload`). Prosody runs as a child process, not the system service.
 *
 *   const prosody = await ProsodyServer.start({ componentDomain: 'mimi.localhost', accounts: [...] });
 *   prosody.c2sService  // xmpp://127.0.0.1:<port>
 *   await prosody.restart(); await prosody.stop();
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prosodyComponentConfig, prosodyUploadConfig } from '../../../registration/generate-xmpp-component-config';

export const PROSODY_VHOST = 'localhost';
export const PROSODY_MUC_DOMAIN = 'conference.localhost';
/** The XEP-0363 upload service (mod_http_file_share), served on a loopback HTTP port. */
export const PROSODY_UPLOAD_DOMAIN = 'upload.localhost';
/** Its size limit (bytes): Prosody's default. */
export const PROSODY_UPLOAD_LIMIT = 10 * 1024 * 1024;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface ProsodyAccount {
  readonly username: string;
  readonly password: string;
}

export interface ProsodyServerOptions {
  /** Folder for config, data and logs (created); default: a new temp folder, deleted on stop. */
  readonly dir?: string;
  readonly componentDomain: string;
  /** Default: 32 random bytes, hex. */
  readonly componentSecret?: string;
  readonly accounts?: readonly ProsodyAccount[];
  /** Extra Lua lines for the global section. */
  readonly extraGlobal?: string;
  /** Keep the process running after this Node process exits (the CLI's `start`). */
  readonly detached?: boolean;
}

/** XEP-0425 message moderation: `mod_muc_moderation` of Debian's prosody-modules package. */
const MUC_MODERATION_MODULE = '/usr/lib/prosody/modules/mod_muc_moderation/mod_muc_moderation.lua';

/** Install Prosody (and prosody-modules, for XEP-0425) from Debian's packages when missing (needs root, as CI has). */
export function ensureProsodyInstalled(): void {
  const haveProsody =
    spawnSync('sh', ['-c', 'command -v prosody && command -v prosodyctl'], { stdio: 'ignore' }).status === 0;
  // Without root, a Prosody without prosody-modules runs with moderation off.
  if (haveProsody && (existsSync(MUC_MODERATION_MODULE) || process.getuid?.() !== 0)) return;
  if (process.getuid?.() !== 0) {
    throw new Error('prosody is not installed; run `sudo scripts/prosody.sh install` (apt-get install prosody)');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'prosody', 'prosody-modules'], { stdio: 'inherit', env });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class ProsodyServer {
  private child?: ChildProcess;
  private exited?: Promise<void>;

  private constructor(
    readonly dir: string,
    private readonly ownsDir: boolean,
    readonly configFile: string,
    readonly c2sPort: number,
    readonly componentPort: number,
    /** Loopback HTTP port of the upload service (mod_http_file_share). */
    readonly httpPort: number,
    readonly componentDomain: string,
    readonly componentSecret: string,
    private readonly detached: boolean,
  ) {}

  get c2sService(): string {
    return `xmpp://127.0.0.1:${this.c2sPort}`;
  }

  get componentService(): string {
    return `xmpp://127.0.0.1:${this.componentPort}`;
  }

  /** The `xmpp.httpUpload` section of a gateway on this Prosody. */
  get httpUpload(): { service: string; downloadUrlPrefix: string } {
    return { service: PROSODY_UPLOAD_DOMAIN, downloadUrlPrefix: `http://127.0.0.1:${this.httpPort}/file_share/` };
  }

  get logFile(): string {
    return join(this.dir, 'prosody.log');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Write the config, create the accounts, start Prosody and wait for both ports. */
  static async start(opts: ProsodyServerOptions): Promise<ProsodyServer> {
    ensureProsodyInstalled();
    const ownsDir = opts.dir === undefined;
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'mimi-prosody-'));
    mkdirSync(join(dir, 'data'), { recursive: true });
    mkdirSync(join(dir, 'certs'), { recursive: true });
    const [c2sPort, componentPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const secret = opts.componentSecret ?? randomBytes(32).toString('hex');
    const component = prosodyComponentConfig({
      componentDomain: opts.componentDomain,
      secret,
      service: `xmpp://127.0.0.1:${componentPort}`,
    });
    const upload = prosodyUploadConfig({
      service: PROSODY_UPLOAD_DOMAIN,
      downloadUrlPrefix: `http://127.0.0.1:${httpPort}/file_share/`,
      sizeLimit: PROSODY_UPLOAD_LIMIT,
    });
    const configFile = join(dir, 'prosody.cfg.lua');
    writeFileSync(
      configFile,
      [
        '-- Test Prosody for the MIMI gateway e2e tests (test/servers/prosody/prosody-server.ts).',
        'run_as_root = true -- CI runs as root; everything lives in this folder',
        `pidfile = "${join(dir, 'prosody.pid')}"`,
        `data_path = "${join(dir, 'data')}"`,
        `certificates = "${join(dir, 'certs')}"`,
        `log = { { levels = { min = "info" }, to = "file", filename = "${join(dir, 'prosody.log')}" } }`,
        'interfaces = { "127.0.0.1" }',
        'local_interfaces = { "127.0.0.1" }',
        `c2s_ports = { ${c2sPort} }`,
        'c2s_direct_tls_ports = { }',
        'legacy_ssl_ports = { }',
        's2s_ports = { }',
        `http_ports = { ${httpPort} }`,
        'http_interfaces = { "127.0.0.1" }',
        'https_ports = { }',
        '-- XEP-0363 uploads (mod_http_file_share) on plain loopback HTTP; URLs name 127.0.0.1.',
        upload.global,
        `http_default_host = "${PROSODY_UPLOAD_DOMAIN}"`,
        component.global,
        '-- Plain loopback, no certificates: no TLS, PLAIN allowed (SCRAM-SHA-1 is offered too).',
        'c2s_require_encryption = false',
        'allow_unencrypted_plain_auth = true',
        'authentication = "internal_hashed"',
        'storage = "internal"',
        // vcard: users' vCards (XEP-0054), where MUC clients find occupants' avatars (XEP-0153).
        'modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "smacks"; "posix"; "vcard" }',
        'modules_disabled = { "tls"; "s2s" }',
        'smacks_hibernation_time = 60',
        opts.extraGlobal ?? '',
        `VirtualHost "${PROSODY_VHOST}"`,
        `Component "${PROSODY_MUC_DOMAIN}" "muc"`,
        // XEP-0425 moderation where prosody-modules is installed (without it, moderator deletes are refused).
        `    modules_enabled = { "muc_mam"${existsSync(MUC_MODERATION_MODULE) ? '; "muc_moderation"' : ''} }`,
        '    muc_log_by_default = true',
        '    muc_log_expires_after = "never"',
        '    muc_room_default_persistent = true',
        '    max_archive_query_results = 50',
        '    storage_archive_item_limit = 1000000',
        upload.component,
        component.component,
        '',
      ].join('\n'),
    );
    const server = new ProsodyServer(
      dir,
      ownsDir,
      configFile,
      c2sPort,
      componentPort,
      httpPort,
      opts.componentDomain,
      secret,
      opts.detached ?? false,
    );
    for (const a of opts.accounts ?? []) server.register(a);
    await server.launch();
    return server;
  }

  /** Create (or reset the password of) an account on the virtual host. */
  register(account: ProsodyAccount): void {
    execFileSync(
      'prosodyctl',
      ['--config', this.configFile, 'register', account.username, PROSODY_VHOST, account.password],
      {
        stdio: 'pipe',
      },
    );
  }

  /** Stop gracefully (SIGTERM), keeping the data; start again on the same ports. */
  async restart(): Promise<void> {
    await this.halt('SIGTERM');
    await this.launch();
  }

  /** Stop Prosody and, when the folder was ours, delete it. */
  async stop(): Promise<void> {
    await this.halt('SIGTERM');
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Stop the process only (data kept). */
  async halt(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      this.exited!.then(() => true),
      new Promise<boolean>((res) => (timer = setTimeout(() => res(false), STOP_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (!stopped) {
      child.kill('SIGKILL');
      await this.exited;
    }
    this.child = undefined;
  }

  /** Start the process and wait until both ports accept connections. */
  async launch(): Promise<void> {
    const out = openSync(join(this.dir, 'prosody.out'), 'a');
    const child = spawn('prosody', ['-F', '--config', this.configFile], {
      stdio: ['ignore', out, out],
      detached: this.detached,
    });
    closeSync(out);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    if (this.detached) child.unref();
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`prosody exited at start (${child.exitCode ?? child.signalCode}):\n${this.tail()}`);
      }
      if ((await portOpen(this.c2sPort)) && (await portOpen(this.componentPort)) && (await portOpen(this.httpPort))) {
        return;
      }
      if (Date.now() > deadline) {
        await this.halt('SIGKILL');
        throw new Error(`prosody did not open its ports within ${START_TIMEOUT_MS} ms:\n${this.tail()}`);
      }
      await pause(100);
    }
  }

  /** The last lines of Prosody's logs, for error messages. */
  tail(lines = 40): string {
    const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
    const text = read(join(this.dir, 'prosody.out')) + read(this.logFile);
    return text.split('\n').slice(-lines).join('\n');
  }
}
