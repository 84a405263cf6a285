import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConfigError, errorMessage } from '../common/errors';
import { loadConfig } from '../app.config';
import { CONFIG_ENV } from '../config/load-config';

/**
 * The `mimi-gateway` command line. Each command returns an exit code; nothing here throws a
 * stack trace at the user: errors are one clear line on stderr.
 *
 *   mimi-gateway start            run the gateway
 *   mimi-gateway init             write a development config.yaml (embedded defaults)
 *   mimi-gateway config check     validate the config and print a summary
 *   mimi-gateway content inspect  decode a MIMI content (CBOR) file
 *   mimi-gateway certs dev        make a development CA and provider certificates
 */

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const STD_IO: CliIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

/** Version from the nearest package.json above this file (works from src/ and from dist/). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

function configPath(opt: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(opt ?? env[CONFIG_ENV] ?? 'config.yaml');
}

function reportConfigError(io: CliIo, file: string, e: unknown): number {
  if (e instanceof ConfigError) {
    io.err(`mimi-gateway: invalid config ${file}:`);
    for (const p of e.problems) io.err(`  ${p.keyPath}: expected ${p.expected}`);
    return 1;
  }
  io.err(`mimi-gateway: ${errorMessage(e)}`);
  return 1;
}

const DEV_CONFIG = (domain: string, port: number, adminPort: number): string =>
  `# Development configuration written by \`mimi-gateway init\` (embedded defaults).
# Every key is described in config.sample.yaml.
provider:
  domain: ${domain}
listen:
  host: 127.0.0.1
  port: ${port}
tls:
  certFile: data/tls/${domain}.crt
  keyFile: data/tls/${domain}.key
  caFiles: [data/tls/ca.crt]
  # A development CA and certificate are created under data/tls/ on first start.
  devAutoGenerate: true
database:
  type: better-sqlite3
  path: data/gateway.sqlite
admin:
  host: 127.0.0.1
  port: ${adminPort}
peers: []
`;

export function buildProgram(io: CliIo, env: NodeJS.ProcessEnv, setExit: (code: number) => void): Command {
  const program = new Command('mimi-gateway')
    .description('Gateway between Matrix rooms / XMPP MUCs and IETF MIMI rooms')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('start')
    .description('run the gateway (migrations, MIMI endpoints over mutual TLS, delivery workers, bridges)')
    .option('-c, --config <file>', `config file (default: $${CONFIG_ENV} or ./config.yaml)`)
    .action(async (opts: { config?: string }) => {
      const file = configPath(opts.config, env);
      let config;
      try {
        config = loadConfig(file, env);
      } catch (e) {
        return setExit(reportConfigError(io, file, e));
      }
      // Loaded lazily: `config check` and `content inspect` must not pay for Nest and the drivers.
      const { runGateway } = await import('../main');
      setExit(await runGateway(config));
    });

  program
    .command('init')
    .description('write a development config (embedded SQLite, generated dev certificates) if none exists')
    .option('-c, --config <file>', 'where to write it', 'config.yaml')
    .option('--domain <domain>', 'provider domain', 'gateway.localhost')
    .option('--port <port>', 'MIMI listener port', '8443')
    .option('--admin-port <port>', 'admin listener port', '8480')
    .action((opts: { config: string; domain: string; port: string; adminPort: string }) => {
      const file = resolve(opts.config);
      if (existsSync(file)) {
        io.out(`config exists, kept: ${file}`);
        return setExit(0);
      }
      writeFileSync(file, DEV_CONFIG(opts.domain, Number(opts.port), Number(opts.adminPort)), { mode: 0o600 });
      io.out(`wrote development config: ${file}`);
      setExit(0);
    });

  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('validate the config file and print a summary; exit 1 naming each bad key')
    .option('-c, --config <file>', `config file (default: $${CONFIG_ENV} or ./config.yaml)`)
    .action((opts: { config?: string }) => {
      const file = configPath(opts.config, env);
      try {
        const c = loadConfig(file, env);
        io.out(`config OK: ${file}`);
        io.out(`  provider ${c.provider.domain}, MIMI on https://${c.listen.host}:${c.listen.port}`);
        io.out(`  database ${c.database.type}${c.database.type === 'postgres' ? '' : ` (${c.database.path})`}`);
        io.out(`  peers: ${c.peers.map((p) => p.domain).join(', ') || 'none'}`);
        io.out(
          `  bridges: ${[c.matrix ? 'matrix' : '', c.xmpp ? `xmpp (${c.xmpp.mode})` : ''].filter(Boolean).join(', ') || 'none'}`,
        );
        setExit(0);
      } catch (e) {
        setExit(reportConfigError(io, file, e));
      }
    });

  program
    .command('generate-registration')
    .description('write the Matrix appservice registration (creates matrix.tokensFile on first run)')
    .option('-c, --config <file>', `config file (default: $${CONFIG_ENV} or ./config.yaml)`)
    .option('-o, --output <file>', 'where to write it (default: stdout)')
    .action(async (opts: { config?: string; output?: string }) => {
      const { runGenerateRegistration } = await import('../../registration/cli');
      setExit(runGenerateRegistration({ configFile: configPath(opts.config, env), outputFile: opts.output, env }, io));
    });

  program
    .command('generate-xmpp-config')
    .description('print the Prosody or ejabberd section for the XMPP component (creates xmpp.secretFile when missing)')
    .option('-c, --config <file>', `config file (default: $${CONFIG_ENV} or ./config.yaml)`)
    .option('--server <kind>', 'prosody or ejabberd', 'prosody')
    .action(async (opts: { config?: string; server: string }) => {
      const file = configPath(opts.config, env);
      let c;
      try {
        c = loadConfig(file, env);
      } catch (e) {
        return setExit(reportConfigError(io, file, e));
      }
      if (opts.server !== 'prosody' && opts.server !== 'ejabberd') {
        io.err('mimi-gateway: --server must be prosody or ejabberd');
        return setExit(2);
      }
      const { generateXmppComponentConfig } = await import('../../registration/generate-xmpp-component-config');
      try {
        const r = generateXmppComponentConfig(c, opts.server);
        if (r.secretCreated) io.err(`created ${r.secretFile} (mode 0600)`);
        io.out(r.text.trimEnd());
        setExit(0);
      } catch (e) {
        io.err(`mimi-gateway: ${errorMessage(e)}`);
        setExit(1);
      }
    });

  const content = program.command('content').description('MIMI content (draft-ietf-mimi-content-08) tools');
  content
    .command('inspect <file>')
    .description('decode a MIMI content CBOR file and print it as JSON with its message ID')
    .option('--sender <uri>', 'sender URI for the message ID (default: extension key 1)')
    .option('--room <uri>', 'room URI for the message ID (default: extension key 2)')
    .action(async (file: string, opts: { sender?: string; room?: string }) => {
      const { runContentInspect } = await import('../mimi/content/inspect');
      const r = runContentInspect({ file, sender: opts.sender, room: opts.room });
      if (r.stdout) io.out(r.stdout.trimEnd());
      if (r.stderr) io.err(r.stderr.trimEnd());
      setExit(r.exitCode);
    });

  const certs = program.command('certs').description('certificates for local setups and tests');
  certs
    .command('dev')
    .description('create a development CA and one certificate per provider domain (keeps existing files)')
    .requiredOption('--dir <dir>', 'output directory')
    .requiredOption('--domain <domain...>', 'provider domain(s)')
    .action(async (opts: { dir: string; domain: string[] }) => {
      const { writeDevPki } = await import('../../registration/dev-ca');
      const written = await writeDevPki(resolve(opts.dir), opts.domain);
      io.out(JSON.stringify(written, null, 2));
      setExit(0);
    });

  program
    .command('version')
    .description('print the version')
    .action(() => {
      io.out(packageVersion());
      setExit(0);
    });

  return program;
}

/** Run the CLI; resolves with the process exit code. */
export async function main(argv: string[], io: CliIo = STD_IO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let code = 0;
  const program = buildProgram(io, env, (c) => (code = c));
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    io.err(`mimi-gateway: ${errorMessage(e)}`);
    return 1;
  }
  return code;
}
