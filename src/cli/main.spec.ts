import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MIMI_CONTENT_08_FIXTURE_DIR, ORIGINAL_MESSAGE_ID } from '../../test/fixtures/mimi-content-08/vectors';
import { main } from './main';

const SAMPLE_CONFIG = resolve(__dirname, '../../config.sample.yaml');

async function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'mimi-gateway', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) }, env);
  return { code, out, err };
}

describe('mimi-gateway CLI', () => {
  describe('config check', () => {
    it('accepts the sample config and prints a summary', async () => {
      const r = await run(['config', 'check', '-c', SAMPLE_CONFIG]);
      expect(r.code).toBe(0);
      expect(r.out[0]).toBe(`config OK: ${SAMPLE_CONFIG}`);
      expect(r.out.join('\n')).toContain('provider gateway.localhost');
    });

    it('takes the path from MIMI_GATEWAY_CONFIG', async () => {
      const r = await run(['config', 'check'], { MIMI_GATEWAY_CONFIG: SAMPLE_CONFIG });
      expect(r.code).toBe(0);
    });

    it('exits 1 naming each bad key path', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-'));
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, 'provider: { domain: gw.example }\nlisten: { port: -1 }\ndatabase: { type: oracle }\n');
      const r = await run(['config', 'check', '-c', file]);
      expect(r.code).toBe(1);
      expect(r.err).toEqual([
        `mimi-gateway: invalid config ${file}:`,
        '  listen.port: expected a TCP port number (0 picks a free one), from 0 to 65535',
        "  database.type: expected one of 'better-sqlite3' (embedded default) or 'postgres'",
      ]);
    });
  });

  describe('content inspect', () => {
    it('prints the decoded message with the draft message ID', async () => {
      const r = await run(['content', 'inspect', join(MIMI_CONTENT_08_FIXTURE_DIR, 'original.cbor')]);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.out.join('\n')) as { messageId: string }).messageId).toBe(ORIGINAL_MESSAGE_ID);
    });

    it('exits non-zero with one line naming the broken rule, without a stack trace', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-'));
      const file = join(dir, 'truncated.cbor');
      const good = readFileSync(join(MIMI_CONTENT_08_FIXTURE_DIR, 'original.cbor'));
      writeFileSync(file, good.subarray(0, good.length - 3));
      const r = await run(['content', 'inspect', file]);
      expect(r.code).toBe(1);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/truncat|end of input/i);
      expect(r.err[0]).not.toMatch(/\n\s+at /);
    });
  });

  describe('init', () => {
    it('writes a development config that validates, and keeps an existing one', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-'));
      const file = join(dir, 'config.yaml');
      expect((await run(['init', '-c', file, '--domain', 'dev.example'])).code).toBe(0);
      const check = await run(['config', 'check', '-c', file]);
      expect(check.code).toBe(0);
      expect(check.out.join('\n')).toContain('provider dev.example');
      const again = await run(['init', '-c', file]);
      expect(again.out[0]).toBe(`config exists, kept: ${file}`);
    });

    it('generates a provisioning token (mode 0600) that the config requires', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-'));
      const file = join(dir, 'config.yaml');
      expect((await run(['init', '-c', file])).code).toBe(0);
      const tokenFile = join(dir, 'data/admin.token');
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(tokenFile, 'utf8').trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(readFileSync(file, 'utf8')).toContain('tokenFile: data/admin.token');
      const check = await run(['config', 'check', '-c', file]);
      expect(check.out).toContain(`  provisioning: bearer token from ${tokenFile}`);
    });
  });

  describe('config check of admin.tokenFile', () => {
    it.each([
      ['an empty', ''],
      ['a whitespace-only', ' \n\t\n'],
    ])('refuses %s token file, naming the key', async (_what, content) => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-'));
      writeFileSync(join(dir, 'token'), content);
      const file = join(dir, 'config.yaml');
      writeFileSync(file, 'provider: { domain: gw.example }\nadmin: { tokenFile: token }\n');
      const r = await run(['config', 'check', '-c', file]);
      expect(r.code).toBe(1);
      expect(r.err).toEqual([
        `mimi-gateway: invalid config ${file}:`,
        `  admin.tokenFile: expected a file holding the provisioning token (${join(dir, 'token')} is empty)`,
      ]);
    });

    it('says when provisioning is off for want of a token', async () => {
      const r = await run(['config', 'check', '-c', SAMPLE_CONFIG]);
      expect(r.out).toContain('  provisioning: OFF: no admin.tokenFile (`mimi-gateway init` writes one)');
    });
  });

  describe('generate-registration', () => {
    it('writes a registration whose tokens are reused on the next run', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-'));
      const file = join(dir, 'config.yaml');
      writeFileSync(
        file,
        'provider: { domain: gw.example }\nmatrix: { homeserverUrl: "http://127.0.0.1:8008", domain: hs.example }\n',
      );
      const first = await run(['generate-registration', '-c', file]);
      expect(first.code).toBe(0);
      const asToken = /as_token: (\S+)/.exec(first.out.join('\n'))?.[1];
      expect(asToken).toBeDefined();
      const second = await run(['generate-registration', '-c', file]);
      expect(second.out.join('\n')).toContain(`as_token: ${asToken}`);
      expect(second.err.join('\n')).toContain('reusing appservice tokens');
    });

    it('names the missing matrix section', async () => {
      const r = await run(['generate-registration', '-c', SAMPLE_CONFIG]);
      expect(r.code).toBe(1);
      expect(r.err).toContain('  matrix: expected a matrix section (see config.sample.yaml)');
    });
  });

  describe('generate-xmpp-config', () => {
    it('prints a Prosody component section with a secret created on first run', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cli-'));
      const file = join(dir, 'config.yaml');
      writeFileSync(
        file,
        'provider: { domain: gw.example }\nxmpp: { service: "xmpp://127.0.0.1:5347", componentDomain: mimi.xmpp.example, secretFile: secret }\n',
      );
      const r = await run(['generate-xmpp-config', '-c', file]);
      expect(r.code).toBe(0);
      expect(r.out.join('\n')).toContain('Component "mimi.xmpp.example"');
      expect(readFileSync(join(dir, 'secret'), 'utf8').trim().length).toBeGreaterThan(16);
    });

    it('refuses an unknown server kind', async () => {
      const r = await run(['generate-xmpp-config', '-c', SAMPLE_CONFIG, '--server', 'openfire']);
      expect(r.code).toBe(2);
    });
  });

  it('rejects an unknown command with a usage error', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).not.toBe(0);
    expect(r.err.join('\n')).toContain("unknown command 'frobnicate'");
  });
});
