import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { runGenerateRegistration } from './cli';

const CONFIG = `provider:
  domain: gw.example
matrix:
  homeserverUrl: http://127.0.0.1:8008
  domain: example.org
  tokensFile: data/matrix-tokens.yaml
`;

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

describe(runGenerateRegistration.name, () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mimi-genreg-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the registration with the tokens the gateway will use, and keeps them on the next run', () => {
    const configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, CONFIG);
    const outputFile = join(dir, 'registration.yaml');
    const first = io();
    expect(runGenerateRegistration({ configFile, outputFile, env: {} }, first.io)).toBe(0);
    expect(first.err[0]).toMatch(/^created appservice tokens: /);
    const reg = YAML.parse(readFileSync(outputFile, 'utf8')) as { as_token: string; hs_token: string; url: string };
    const tokens = YAML.parse(readFileSync(join(dir, 'data', 'matrix-tokens.yaml'), 'utf8')) as Record<string, string>;
    expect(reg.as_token).toBe(tokens['as_token']);
    expect(reg.hs_token).toBe(tokens['hs_token']);
    expect(reg.url).toBe('http://127.0.0.1:9000');
    expect(statSync(outputFile).mode & 0o777).toBe(0o600);

    const second = io();
    expect(runGenerateRegistration({ configFile, env: {} }, second.io)).toBe(0);
    expect(second.err[0]).toMatch(/^reusing appservice tokens: /);
    expect(YAML.parse(second.out.join('\n'))).toEqual(reg);
  });

  it('fails with one line per problem when the config has no matrix section', () => {
    const configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, 'provider:\n  domain: gw.example\n');
    const r = io();
    expect(runGenerateRegistration({ configFile, env: {} }, r.io)).toBe(1);
    expect(r.err).toEqual([
      `mimi-gateway: invalid config ${configFile}:`,
      '  matrix: expected a matrix section (see config.sample.yaml)',
    ]);
  });

  it('fails on an unreadable config', () => {
    const r = io();
    expect(runGenerateRegistration({ configFile: join(dir, 'missing.yaml'), env: {} }, r.io)).toBe(1);
    expect(r.out).toEqual([]);
  });
});
