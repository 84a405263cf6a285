import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../src/common/errors';
import { loadConfig, validateConfig } from '../../src/app.config';
import { resolveConfigPath } from '../../src/config/load-config';

const SAMPLE = resolve(__dirname, '../../config.sample.yaml');
const DOMAIN = 'gw.example';

function problemsOf(fn: () => unknown): { keyPath: string; expected: string }[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('accepts the committed config.sample.yaml and applies its values', () => {
    const config = loadConfig(SAMPLE, {});
    expect(config.provider.domain).toBe('gateway.localhost');
    expect(config.database.type).toBe('better-sqlite3');
    expect(config.listen.port).toBe(8443);
    expect(config.baseDir).toBe(resolve(__dirname, '../..'));
  });

  it('names the file when it cannot be read', () => {
    expect(problemsOf(() => loadConfig('/nonexistent/config.yaml'))).toEqual([
      { keyPath: '(file)', expected: expect.stringContaining('/nonexistent/config.yaml') },
    ]);
  });

  it('reports invalid YAML as a config error, not a crash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'c.yaml'), 'provider: [unclosed');
    expect(problemsOf(() => loadConfig(join(dir, 'c.yaml')))[0]?.expected).toMatch(/^valid YAML/);
  });

  it('resolves relative paths against the config file directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'c.yaml'), `provider: { domain: ${DOMAIN} }\n`);
    const config = loadConfig(join(dir, 'c.yaml'), {});
    expect(resolveConfigPath(config, config.database.path)).toBe(join(dir, 'data/gateway.sqlite'));
    expect(resolveConfigPath(config, '/abs/x')).toBe('/abs/x');
  });
});

describe('validateConfig', () => {
  it('fills defaults for everything but provider.domain', () => {
    const config = validateConfig({ provider: { domain: DOMAIN } });
    expect(config.outbox).toMatchObject({ concurrency: 8, initialBackoffMs: 500, maxBackoffMs: 300000 });
    expect(config.peers).toEqual([]);
    expect(config.matrix).toBeUndefined();
  });

  it('names every bad key path and what was expected', () => {
    const problems = problemsOf(() =>
      validateConfig({
        provider: { domain: 'Not A Domain' },
        listen: { port: 70000 },
        database: { type: 'mysql' },
        outbox: { concurrency: 'many' },
        peers: [{ domain: 'ok.example', baseUrl: 'http://insecure' }],
        bogus: true,
      }),
    );
    const paths = problems.map((p) => p.keyPath);
    expect(paths).toEqual(
      expect.arrayContaining([
        'provider.domain',
        'listen.port',
        'database.type',
        'outbox.concurrency',
        'peers.0.baseUrl',
        'bogus',
      ]),
    );
    expect(problems.find((p) => p.keyPath === 'listen.port')?.expected).toBe(
      'a TCP port number (0 picks a free one), from 0 to 65535',
    );
    expect(problems.find((p) => p.keyPath === 'bogus')?.expected).toMatch(/no such key/);
  });

  it('requires the provider section', () => {
    expect(problemsOf(() => validateConfig({})).map((p) => p.keyPath)).toEqual(['provider']);
  });

  it('requires database.url when the type is postgres', () => {
    expect(problemsOf(() => validateConfig({ provider: { domain: DOMAIN }, database: { type: 'postgres' } }))).toEqual([
      { keyPath: 'database.url', expected: expect.stringContaining('postgres://') },
    ]);
  });

  it('requires the mode-specific XMPP keys', () => {
    const problems = problemsOf(() =>
      validateConfig({ provider: { domain: DOMAIN }, xmpp: { mode: 'relay', service: 'xmpp://127.0.0.1:5222' } }),
    );
    expect(problems.map((p) => p.keyPath)).toEqual(['xmpp.jid']);
  });

  it('applies environment overrides, parsed as YAML scalars', () => {
    const config = validateConfig(
      { provider: { domain: DOMAIN } },
      { env: { MIMI_GATEWAY__LISTEN__PORT: '9443', MIMI_GATEWAY__OUTBOX__MAX_BACKOFF_MS: '1000', OTHER: 'x' } },
    );
    expect(config.listen.port).toBe(9443);
    expect(config.outbox.maxBackoffMs).toBe(1000);
  });

  it('rejects a non-mapping root', () => {
    expect(problemsOf(() => validateConfig(['a']))).toEqual([{ keyPath: '(root)', expected: 'a YAML mapping' }]);
  });
});
