import { Logger } from '@nestjs/common';
import { GatewayError, ValidationError } from '../../common/errors';
import { buildDirectory } from './mimi-directory';
import { MIMI_DIRECTORY_PATH, roomPathSegment } from './mimi-paths';
import { DIRECTORY_RETRY_MS, DIRECTORY_TTL_MS, PeerRegistry } from './peer-registry';
import {
  DOMAIN_A,
  DOMAIN_B,
  DOMAIN_C,
  LOOPBACK_HOST,
  PemDir,
  ScriptedPeer,
  TestPki,
  createTestPki,
  providerConfig,
} from '../../../test/kits/mimi/transport-fixtures';
import { TransportTls } from './transport-tls';

const CLUB_ROOM = 'mimi://b.example/r/club';
const ALICE = 'mimi://b.example/u/alice';
const CONFIGURED_BASE = 'https://mimi.c.example:8443/v1';
const FIRST_BASE = 'https://mimi.b.example/v1';
const SECOND_BASE = 'https://mimi2.b.example/v2';
const START_MS = Date.UTC(2026, 4, 1, 12, 0, 0);

describe(PeerRegistry.name, () => {
  let pki: TestPki;
  let dir: PemDir;
  let directoryPeer: ScriptedPeer;
  let nowMs: number;
  const registries: PeerRegistry[] = [];

  /** Provider A's registry: C configured with a base URL, B found through its directory on loopback. */
  function registry(): PeerRegistry {
    const peerCaFile = dir.write('peer-ca.crt', pki.peerCa.certPem);
    const config = providerConfig(dir, DOMAIN_A, pki.a, pki.ca, {
      peers: [{ domain: DOMAIN_C, baseUrl: `${CONFIGURED_BASE}/`, caFiles: [peerCaFile] }],
      outbox: { requestTimeoutMs: 5000 },
    });
    const r = new PeerRegistry(config, TransportTls.fromConfig(config), {
      directoryUrlFor: (domain) => `https://${LOOPBACK_HOST}:${directoryPeer.port}${MIMI_DIRECTORY_PATH}?for=${domain}`,
      now: () => nowMs,
    });
    registries.push(r);
    return r;
  }

  const serveDirectory = (base: string): void => {
    directoryPeer.script = (res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(buildDirectory(base)));
  };

  beforeAll(async () => {
    Logger.overrideLogger(false);
    pki = await createTestPki();
    dir = new PemDir();
    directoryPeer = await ScriptedPeer.start(pki.b, pki.ca);
  });

  afterAll(async () => {
    await Promise.all(registries.map((r) => r.onModuleDestroy()));
    await directoryPeer.close();
    dir.cleanup();
  });

  beforeEach(() => {
    nowMs = START_MS;
    directoryPeer.requests.length = 0;
    serveDirectory(FIRST_BASE);
  });

  describe('peer', () => {
    it('knows configured peers, their base URL and their own anchors; others get the defaults', () => {
      const r = registry();
      const c = r.peer('C.example');
      expect(c).toMatchObject({ domain: DOMAIN_C, baseUrl: CONFIGURED_BASE, configured: true });
      expect(c.anchors.map((a) => a.pem)).toEqual([pki.peerCa.certPem]);
      const b = r.peer(DOMAIN_B);
      expect(b).toMatchObject({ domain: DOMAIN_B, baseUrl: undefined, configured: false });
      expect(b.anchors.map((a) => a.pem)).toEqual([pki.ca.certPem]);
    });

    it('rejects a value that is not a domain', () => {
      expect(() => registry().peer('not a domain')).toThrow(ValidationError);
    });
  });

  describe('agentFor', () => {
    it('keeps one connection pool per peer', () => {
      const r = registry();
      expect(r.agentFor(DOMAIN_B)).toBe(r.agentFor('B.EXAMPLE'));
      expect(r.agentFor(DOMAIN_B)).not.toBe(r.agentFor(DOMAIN_C));
    });
  });

  describe('resolveEndpoint with a configured base URL', () => {
    it('appends /<endpoint>/<encoded URI> without asking the network', async () => {
      const r = registry();
      await expect(r.resolveEndpoint(DOMAIN_C, 'notify', CLUB_ROOM)).resolves.toEqual(
        new URL(`${CONFIGURED_BASE}/notify/${roomPathSegment(CLUB_ROOM)}`),
      );
      await expect(r.resolveEndpoint(DOMAIN_C, 'keyMaterial', ALICE)).resolves.toEqual(
        new URL(`${CONFIGURED_BASE}/keyMaterial/${roomPathSegment(ALICE)}`),
      );
      expect(directoryPeer.requests).toEqual([]);
    });
  });

  describe('resolveEndpoint through the directory', () => {
    it('fetches the directory over mutual TLS with Host and From, and expands its template', async () => {
      const url = await registry().resolveEndpoint(DOMAIN_B, 'submitMessage', CLUB_ROOM);
      expect(url.href).toBe(`${FIRST_BASE}/submitMessage/${roomPathSegment(CLUB_ROOM)}`);
      expect(directoryPeer.requests).toEqual([
        expect.objectContaining({
          method: 'GET',
          url: `${MIMI_DIRECTORY_PATH}?for=${DOMAIN_B}`,
          headers: expect.objectContaining({ host: `${DOMAIN_B}:${directoryPeer.port}`, from: `mimi@${DOMAIN_A}` }),
          clientAuthorized: true,
          clientIsA: true,
        }),
      ]);
    });

    it('caches the directory for its TTL, then fetches it again', async () => {
      const r = registry();
      await r.resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM);
      nowMs += DIRECTORY_TTL_MS - 1;
      await r.resolveEndpoint(DOMAIN_B, 'update', CLUB_ROOM);
      expect(directoryPeer.requests).toHaveLength(1);
      serveDirectory(SECOND_BASE);
      nowMs += 1;
      const url = await r.resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM);
      expect(url.href.startsWith(`${SECOND_BASE}/notify/`)).toBe(true);
      expect(directoryPeer.requests).toHaveLength(2);
    });

    it('keeps using a stale copy when a refresh fails, and tries again only after the retry delay', async () => {
      const r = registry();
      await r.resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM);
      directoryPeer.script = (res) => res.writeHead(500).end();
      nowMs += DIRECTORY_TTL_MS;
      const stale = await r.resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM);
      expect(stale.href.startsWith(`${FIRST_BASE}/notify/`)).toBe(true);
      expect(directoryPeer.requests).toHaveLength(2);
      nowMs += DIRECTORY_RETRY_MS - 1;
      await r.resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM);
      expect(directoryPeer.requests).toHaveLength(2);
      serveDirectory(SECOND_BASE);
      nowMs += 1;
      const fresh = await r.resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM);
      expect(fresh.href.startsWith(`${SECOND_BASE}/notify/`)).toBe(true);
      expect(directoryPeer.requests).toHaveLength(3);
    });

    it('fails retryably when there is no copy and the fetch fails', async () => {
      directoryPeer.script = (res) => res.writeHead(503).end();
      const failure = registry().resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM);
      await expect(failure).rejects.toBeInstanceOf(GatewayError);
      await expect(failure).rejects.toMatchObject({ retryable: true, message: expect.stringMatching(/HTTP 503/) });
    });

    it('fails retryably when the directory is not JSON or lacks the endpoint', async () => {
      directoryPeer.script = (res) => res.writeHead(200).end('<html>');
      await expect(registry().resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM)).rejects.toMatchObject({
        retryable: true,
        message: expect.stringMatching(/not JSON/),
      });
      directoryPeer.script = (res) =>
        res.writeHead(200).end(JSON.stringify({ notify: `${FIRST_BASE}/notify/{roomId}` }));
      await expect(registry().resolveEndpoint(DOMAIN_B, 'groupInfo', CLUB_ROOM)).rejects.toMatchObject({
        retryable: true,
        code: 'GW_PEER_UNAVAILABLE',
        message: 'b.example does not list groupInfo in its directory',
      });
    });

    it.each([
      ['a NaN token', (ok: string) => `{"notify":${ok},"n":NaN}`],
      ['an Infinity token', (ok: string) => `{"notify":${ok},"n":Infinity}`],
    ])('refuses a directory with %s as not JSON, retryably (T31)', async (_what, body) => {
      directoryPeer.script = (res) => res.writeHead(200).end(body(JSON.stringify(`${FIRST_BASE}/notify/{roomId}`)));
      await expect(registry().resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM)).rejects.toMatchObject({
        retryable: true,
        message: expect.stringMatching(/not JSON/),
      });
    });

    it('reads a directory with duplicate keys (the last wins), huge integers and deep nesting elsewhere (T31)', async () => {
      const deep = '['.repeat(10_000) + ']'.repeat(10_000);
      directoryPeer.script = (res) =>
        res
          .writeHead(200)
          .end(
            `{"notify":"https://evil.example/notify/{roomId}","n":18446744073709551617,"x":${deep},` +
              `"notify":${JSON.stringify(`${FIRST_BASE}/notify/{roomId}`)}}`,
          );
      const url = await registry().resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM);
      expect(url.href).toBe(`${FIRST_BASE}/notify/${roomPathSegment(CLUB_ROOM)}`);
    });

    it('refuses a 1 MB nesting bomb by its size (64 KiB at most), retryably (T31)', async () => {
      const bomb = '['.repeat(500_000) + ']'.repeat(500_000);
      directoryPeer.script = (res) => res.writeHead(200).end(bomb);
      await expect(registry().resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM)).rejects.toMatchObject({
        retryable: true,
        message: expect.stringMatching(/exceeds 65536 bytes/),
      });
    });

    it('shares one fetch between concurrent callers', async () => {
      const r = registry();
      await Promise.all([1, 2, 3].map(() => r.resolveEndpoint(DOMAIN_B, 'notify', CLUB_ROOM)));
      expect(directoryPeer.requests).toHaveLength(1);
    });

    it('forgets a directory on invalidate', async () => {
      const r = registry();
      await r.directory(DOMAIN_B);
      r.invalidate(DOMAIN_B);
      await r.directory(DOMAIN_B);
      expect(directoryPeer.requests).toHaveLength(2);
    });
  });
});
