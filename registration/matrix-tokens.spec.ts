import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../src/common/errors';
import { generateToken, loadOrCreateMatrixTokens, readMatrixTokens, tokensPath } from './matrix-tokens';

describe('matrix tokens file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mimi-tokens-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates random tokens with mode 0600 on first use and reuses them afterwards', () => {
    const file = join(dir, 'sub', 'tokens.yaml');
    const first = loadOrCreateMatrixTokens(file);
    expect(first.created).toBe(true);
    expect(first.tokens.asToken).not.toBe(first.tokens.hsToken);
    expect(first.tokens.asToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = loadOrCreateMatrixTokens(file);
    expect(second).toEqual({ tokens: first.tokens, created: false });
  });

  it('never rewrites an existing file', () => {
    const file = join(dir, 'tokens.yaml');
    writeFileSync(file, 'as_token: aaaaaaaaaaaaaaaaaaaa\nhs_token: bbbbbbbbbbbbbbbbbbbb\n');
    loadOrCreateMatrixTokens(file);
    expect(readFileSync(file, 'utf8')).toBe('as_token: aaaaaaaaaaaaaaaaaaaa\nhs_token: bbbbbbbbbbbbbbbbbbbb\n');
  });

  it.each([
    ['a missing file', null],
    ['a missing hs_token', 'as_token: aaaaaaaaaaaaaaaaaaaa\n'],
    ['a short token', 'as_token: short\nhs_token: bbbbbbbbbbbbbbbbbbbb\n'],
    ['the same token twice', 'as_token: aaaaaaaaaaaaaaaaaaaa\nhs_token: aaaaaaaaaaaaaaaaaaaa\n'],
    ['a token with spaces', 'as_token: "aaaaaaaaaa aaaaaaaaaa"\nhs_token: bbbbbbbbbbbbbbbbbbbb\n'],
  ])('refuses %s, naming matrix.tokensFile', (_what, text) => {
    const file = join(dir, 'tokens.yaml');
    if (text !== null) writeFileSync(file, text);
    expect(() => readMatrixTokens(file)).toThrow(ConfigError);
    try {
      readMatrixTokens(file);
    } catch (e) {
      expect((e as ConfigError).problems[0]!.keyPath).toBe('matrix.tokensFile');
    }
  });

  it('resolves a relative path against the config directory', () => {
    expect(tokensPath('data/t.yaml', '/etc/mimi')).toBe('/etc/mimi/data/t.yaml');
    expect(tokensPath('/abs/t.yaml', '/etc/mimi')).toBe('/abs/t.yaml');
  });

  it('generates distinct tokens', () => {
    expect(new Set(Array.from({ length: 50 }, generateToken)).size).toBe(50);
  });
});
