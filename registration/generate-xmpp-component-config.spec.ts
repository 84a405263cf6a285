import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../src/app.config';
import {
  ejabberdComponentConfig,
  ensureComponentSecret,
  generateXmppComponentConfig,
  parseXmppService,
  prosodyComponentConfig,
  SECRET_BYTES,
} from './generate-xmpp-component-config';

const GOLDEN_DIR = join(__dirname, 'testdata');
const COMPONENT_DOMAIN = 'mimi.xmpp.example';
const GOLDEN_SECRET = 'golden-secret-0123456789abcdef';
const SERVICE = 'xmpp://127.0.0.1:5347';
const INPUT = { componentDomain: COMPONENT_DOMAIN, secret: GOLDEN_SECRET, service: SERVICE };
const PROVIDER_DOMAIN = 'gw.example';

function golden(name: string): string {
  return readFileSync(join(GOLDEN_DIR, name), 'utf8');
}

describe('prosodyComponentConfig', () => {
  it('matches the golden Prosody section', () => {
    expect(prosodyComponentConfig(INPUT).text).toBe(golden('prosody-component.cfg.lua'));
  });

  it('puts the listener in the global part and the secret in the Component part', () => {
    const { global, component } = prosodyComponentConfig({ ...INPUT, service: 'xmpp://[::1]:15347' });
    expect(global).toBe('component_ports = { 15347 }\ncomponent_interfaces = { "::1" }');
    expect(component).toBe(`Component "${COMPONENT_DOMAIN}"\n    component_secret = "${GOLDEN_SECRET}"`);
  });

  it('escapes quotes and backslashes in Lua strings', () => {
    const { component } = prosodyComponentConfig({ ...INPUT, secret: 'a"b\\c' });
    expect(component).toContain('component_secret = "a\\"b\\\\c"');
  });
});

describe('ejabberdComponentConfig', () => {
  it('matches the golden ejabberd listener', () => {
    expect(ejabberdComponentConfig(INPUT)).toBe(golden('ejabberd-component.yml'));
  });
});

describe('parseXmppService', () => {
  it('defaults to port 5347 and refuses other schemes', () => {
    expect(parseXmppService('xmpp://localhost')).toEqual({ host: 'localhost', port: 5347 });
    expect(() => parseXmppService('https://localhost:5347')).toThrow(/xmpp:\/\/host:port/);
  });
});

describe('ensureComponentSecret', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'xmpp-secret-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a random hex secret readable by the owner only, then reuses it', () => {
    const file = join(dir, 'sub', 'xmpp-secret');
    const first = ensureComponentSecret(file);
    expect(first.created).toBe(true);
    expect(first.secret).toMatch(new RegExp(`^[0-9a-f]{${SECRET_BYTES * 2}}$`));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = ensureComponentSecret(file);
    expect(second).toEqual({ secret: first.secret, created: false });
    const other = ensureComponentSecret(join(dir, 'other'));
    expect(other.secret).not.toBe(first.secret);
  });

  it('refuses an empty secret file', () => {
    const file = join(dir, 'empty');
    writeFileSync(file, '\n');
    expect(() => ensureComponentSecret(file)).toThrow(/empty/);
  });
});

describe('generateXmppComponentConfig', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'xmpp-gen-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function config(xmpp: Record<string, unknown>) {
    return validateConfig({ provider: { domain: PROVIDER_DOMAIN }, xmpp }, { baseDir: dir, env: {} });
  }

  it('uses the secret file relative to the config, creating it on the first run', () => {
    const c = config({
      mode: 'component',
      service: SERVICE,
      componentDomain: COMPONENT_DOMAIN,
      secretFile: 'data/secret',
    });
    const first = generateXmppComponentConfig(c, 'prosody');
    expect(first.secretFile).toBe(join(dir, 'data/secret'));
    expect(first.secretCreated).toBe(true);
    const secret = readFileSync(first.secretFile, 'utf8').trim();
    expect(first.text).toContain(`component_secret = "${secret}"`);
    const again = generateXmppComponentConfig(c, 'ejabberd');
    expect(again.secretCreated).toBe(false);
    expect(again.text).toContain(`password: "${secret}"`);
  });

  it('adds the mod_http_file_share upload service when xmpp.httpUpload is set, and checks its keys', () => {
    const c = config({
      mode: 'component',
      service: SERVICE,
      componentDomain: COMPONENT_DOMAIN,
      secretFile: 'data/secret',
      httpUpload: { service: 'upload.xmpp.example', downloadUrlPrefix: 'https://upload.xmpp.example:5281/file_share/' },
    });
    const { text } = generateXmppComponentConfig(c, 'prosody');
    expect(text).toContain('Component "upload.xmpp.example" "http_file_share"');
    expect(text).toContain('http_external_url = "https://upload.xmpp.example:5281/"');
    expect(generateXmppComponentConfig(config({ ...c.xmpp, httpUpload: undefined }), 'prosody').text).not.toContain(
      'http_file_share',
    );
    expect(() =>
      config({ ...c.xmpp, httpUpload: { service: 'upload.xmpp.example', downloadUrlPrefix: 'ftp://x/' } }),
    ).toThrow(/xmpp\.httpUpload\.downloadUrlPrefix/);
  });

  it('validates the bridge keys of the xmpp section', () => {
    const ok = config({
      mode: 'component',
      service: SERVICE,
      componentDomain: COMPONENT_DOMAIN,
      links: ['lobby@muc.example'],
    });
    expect(ok.xmpp).toMatchObject({ botNick: 'MIMI', attachmentHosts: [], stateFile: 'data/xmpp-state.json' });
    expect(() =>
      config({
        mode: 'component',
        service: SERVICE,
        componentDomain: COMPONENT_DOMAIN,
        links: ['not a jid'],
        maxStanzaBytes: 10,
      }),
    ).toThrow(/xmpp\.links.*xmpp\.maxStanzaBytes|xmpp\.maxStanzaBytes.*xmpp\.links/);
  });

  it('has nothing to generate in relay mode', () => {
    const c = config({ mode: 'relay', service: 'xmpp://127.0.0.1:5222', jid: 'relay@xmpp.example', secretFile: 's' });
    expect(() => generateXmppComponentConfig(c, 'prosody')).toThrow(/relay/);
  });
});
