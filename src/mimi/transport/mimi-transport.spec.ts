import { Body, Controller, HttpCode, INestApplication, Module, Param, Post, UseGuards } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import fc from 'fast-check';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { PemKeyPair, issueProviderCertificate } from '../../../registration/dev-ca';
import { ProviderDomain, RoomUri } from '../../common/ids';
import { ConfigModule } from '../../config/config.module';
import { GatewayConfig } from '../../config/gateway-config';
import { buildDirectory, parseDirectory } from './mimi-directory';
import { MimiPeerClient } from './mimi-peer.client';
import { MimiPeer, MimiPeerGuard } from './mimi-peer.guard';
import { MIMI_DIRECTORY_PATH, MIMI_ROUTES, MIMI_ROUTE_PARAM, ParseRoomUriPipe, roomPathSegment } from './mimi-paths';
import { MimiTransportModule } from './mimi-transport.module';
import { PeerRegistry } from './peer-registry';
import { MAX_MIMI_BODY_BYTES } from './raw-body.middleware';
import {
  DOMAIN_A,
  DOMAIN_B,
  DOMAIN_C,
  LOOPBACK_HOST,
  PemDir,
  TestPki,
  createTestPki,
  providerConfig,
} from '../../../test/kits/mimi/transport-fixtures';
import { TransportTls, buildHttpsOptions } from './transport-tls';

const CLUB_ROOM = 'mimi://b.example/r/club';
/** Every octet value once: the body must arrive byte for byte. */
const BINARY_BODY = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const SECRET = 'db password hunter2';
const OCTET_STREAM = 'application/octet-stream';
const ROUND_TRIPS = 25;

interface Received {
  readonly peer: ProviderDomain;
  readonly roomUri: RoomUri;
  readonly body: Buffer;
}

/** What the probe controller saw, newest last. */
const received: Received[] = [];

@Controller()
@UseGuards(MimiPeerGuard)
class ProbeController {
  @Post(MIMI_ROUTES.notify)
  @HttpCode(201)
  notify(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.notify, ParseRoomUriPipe) roomUri: RoomUri,
    @Body() body: Buffer,
  ): void {
    received.push({ peer, roomUri, body });
  }

  @Post(MIMI_ROUTES.groupInfo)
  groupInfo(): never {
    throw new Error(SECRET);
  }
}

@Module({ imports: [MimiTransportModule], controllers: [ProbeController] })
class ProbeModule {}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: unknown;
}

describe('MIMI transport over HTTPS (Nest app on loopback)', () => {
  let pki: TestPki;
  let dir: PemDir;
  let configB: GatewayConfig;
  let app: INestApplication;
  let port: number;
  const agents: Agent[] = [];

  /** A client connection presenting `identity` (or no certificate), trusting the test CA. */
  function agent(identity?: PemKeyPair, opts: { anyServerName?: boolean } = {}): Agent {
    const a = new Agent({
      connect: {
        ca: pki.ca.certPem,
        servername: DOMAIN_B,
        ...(identity ? { cert: identity.certPem, key: identity.keyPem } : {}),
        // undici takes the TLS server name from Host: let a test send a wrong Host on purpose.
        ...(opts.anyServerName ? { checkServerIdentity: () => undefined } : {}),
      },
    });
    agents.push(a);
    return a;
  }

  async function call(
    method: 'GET' | 'POST',
    path: string,
    opts: { via?: Agent; headers?: Record<string, string | null>; body?: Buffer } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    const wanted = {
      host: `${DOMAIN_B}:${port}`,
      from: `mimi@${DOMAIN_A}`,
      'content-type': OCTET_STREAM,
      ...opts.headers,
    };
    for (const [k, v] of Object.entries(wanted)) if (v !== null) headers[k] = v;
    const res = await request(`https://${LOOPBACK_HOST}:${port}${path}`, {
      method,
      dispatcher: opts.via ?? agent(pki.a),
      headers,
      body: method === 'POST' ? (opts.body ?? BINARY_BODY) : undefined,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, json: text ? (JSON.parse(text) as unknown) : undefined };
  }

  const notifyPath = (room: string = CLUB_ROOM): string => `/notify/${roomPathSegment(room)}`;

  beforeAll(async () => {
    pki = await createTestPki();
    dir = new PemDir();
    const peerCaFile = dir.write('peer-ca.crt', pki.peerCa.certPem);
    configB = providerConfig(dir, DOMAIN_B, pki.b, pki.ca, { peers: [{ domain: DOMAIN_C, caFiles: [peerCaFile] }] });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(configB), ProbeModule],
    }).compile();
    app = moduleRef.createNestApplication({
      httpsOptions: buildHttpsOptions(configB),
      bodyParser: false,
      logger: false,
    });
    await app.listen(0, LOOPBACK_HOST);
    port = (app.getHttpServer().address() as AddressInfo).port;
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await app.close();
    dir.cleanup();
  });

  beforeEach(() => {
    received.length = 0;
  });

  describe('MimiPeerGuard', () => {
    it('admits a peer whose certificate authenticates the From domain, and tells the controller who it is', async () => {
      const answer = await call('POST', notifyPath());
      expect(answer.status).toBe(201);
      expect(received).toEqual([{ peer: DOMAIN_A, roomUri: CLUB_ROOM, body: BINARY_BODY }]);
    });

    it('checks every request of a kept-alive connection, not only the first', async () => {
      const connection = new Agent({
        connections: 1,
        connect: { ca: pki.ca.certPem, servername: DOMAIN_B, cert: pki.a.certPem, key: pki.a.keyPem },
      });
      agents.push(connection);
      expect((await call('POST', notifyPath(), { via: connection })).status).toBe(201);
      const claimsC = await call('POST', notifyPath(), { via: connection, headers: { from: `mimi@${DOMAIN_C}` } });
      expect(claimsC).toMatchObject({ status: 403, json: { errcode: 'MIMI_FORBIDDEN' } });
      expect((await call('POST', notifyPath(), { via: connection })).status).toBe(201);
      expect(received.map((r) => r.peer)).toEqual([DOMAIN_A, DOMAIN_A]);
    });

    it('answers 401 when no client certificate is presented', async () => {
      const answer = await call('POST', notifyPath(), { via: agent() });
      expect(answer).toMatchObject({ status: 401, json: { errcode: 'MIMI_UNAUTHENTICATED' } });
      expect((answer.json as { error: string }).error).toMatch(/no client certificate/);
      expect(received).toEqual([]);
    });

    it('answers 401 for a certificate from a CA nobody trusts', async () => {
      const answer = await call('POST', notifyPath(), { via: agent(pki.aByStranger) });
      expect(answer).toMatchObject({ status: 401, json: { errcode: 'MIMI_UNAUTHENTICATED' } });
      expect(received).toEqual([]);
    });

    it('answers 401 for an expired client certificate from the trusted CA, and processes nothing (T25)', async () => {
      const DAY_MS = 86_400_000;
      const expired = await issueProviderCertificate(pki.ca, DOMAIN_A, {
        now: new Date(Date.now() - 30 * DAY_MS),
        validDays: 1,
      });
      const answer = await call('POST', notifyPath(), { via: agent(expired) });
      expect(answer).toMatchObject({ status: 401, json: { errcode: 'MIMI_UNAUTHENTICATED' } });
      expect((answer.json as { error: string }).error).toMatch(/expired/i);
      expect(received).toEqual([]);
    });

    it('answers 401 when the certificate comes from a CA trusted only for another peer', async () => {
      const answer = await call('POST', notifyPath(), { via: agent(pki.aByPeerCa) });
      expect(answer).toMatchObject({ status: 401, json: { errcode: 'MIMI_UNAUTHENTICATED' } });
      expect((answer.json as { error: string }).error).toMatch(/trust anchors configured for a\.example/);
    });

    it('checks a peer configured with its own caFiles against those anchors only', async () => {
      const fromC = { from: `mimi@${DOMAIN_C}` };
      const ok = await call('POST', notifyPath(), { via: agent(pki.cByPeerCa), headers: fromC });
      expect(ok.status).toBe(201);
      expect(received.map((r) => r.peer)).toEqual([DOMAIN_C]);
      const byDefaultCa = await call('POST', notifyPath(), { via: agent(pki.cByCa), headers: fromC });
      expect(byDefaultCa).toMatchObject({ status: 401, json: { errcode: 'MIMI_UNAUTHENTICATED' } });
    });

    it('answers 403 when From names a domain the certificate does not authenticate', async () => {
      const answer = await call('POST', notifyPath(), { headers: { from: `mimi@${DOMAIN_C}` } });
      expect(answer).toMatchObject({ status: 403, json: { errcode: 'MIMI_FORBIDDEN' } });
      expect((answer.json as { error: string }).error).toMatch(/does not authenticate c\.example/);
      expect(received).toEqual([]);
    });

    it.each([
      ['missing', null],
      ['in name-addr form', `<mimi@${DOMAIN_A}>`],
      ['with another local part', `alice@${DOMAIN_A}`],
    ])('answers 403 when From is %s', async (_what, from) => {
      const answer = await call('POST', notifyPath(), { headers: { from } });
      expect(answer).toMatchObject({ status: 403, json: { errcode: 'MIMI_FORBIDDEN' } });
      expect(received).toEqual([]);
    });

    it('answers 403 when Host names another provider, and ignores the port of ours', async () => {
      const wrong = await call('POST', notifyPath(), {
        via: agent(pki.a, { anyServerName: true }),
        headers: { host: `${DOMAIN_C}:${port}` },
      });
      expect(wrong).toMatchObject({ status: 403, json: { errcode: 'MIMI_FORBIDDEN' } });
      expect((wrong.json as { error: string }).error).toMatch(/Host must name this provider/);
      const noPort = await call('POST', notifyPath(), { headers: { host: DOMAIN_B } });
      expect(noPort.status).toBe(201);
    });
  });

  describe('raw bodies', () => {
    it('hands the exact bytes to the controller whatever the Content-Type, or none', async () => {
      for (const contentType of ['application/json', 'text/plain', null]) {
        const answer = await call('POST', notifyPath(), { headers: { 'content-type': contentType } });
        expect(answer.status).toBe(201);
      }
      expect(received.map((r) => r.body)).toEqual([BINARY_BODY, BINARY_BODY, BINARY_BODY]);
    });

    it('gives an empty Buffer for an empty body', async () => {
      expect((await call('POST', notifyPath(), { body: Buffer.alloc(0) })).status).toBe(201);
      expect(received[0]!.body).toEqual(Buffer.alloc(0));
    });

    it('accepts a body of exactly the limit and answers 413 one byte over it', async () => {
      const atLimit = await call('POST', notifyPath(), { body: Buffer.alloc(MAX_MIMI_BODY_BYTES, 7) });
      expect(atLimit.status).toBe(201);
      const over = await call('POST', notifyPath(), { body: Buffer.alloc(MAX_MIMI_BODY_BYTES + 1, 7) });
      expect(over).toMatchObject({ status: 413, json: { errcode: 'MIMI_PAYLOAD_TOO_LARGE' } });
      expect(received.map((r) => r.body.length)).toEqual([MAX_MIMI_BODY_BYTES]);
    });
  });

  describe('room URI in the path', () => {
    it('reaches the controller exactly as sent, through Express decoding', async () => {
      const via = agent(pki.a);
      const roomUri = fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 24 })
        .map((local) => `mimi://${DOMAIN_B}/r/${local}`)
        // Line breaks and other control characters are refused (parseMimiUri).
        // eslint-disable-next-line no-control-regex
        .filter((u) => !/[\u0000-\u001f\u007f\u2028\u2029]/.test(u));
      await fc.assert(
        fc.asyncProperty(roomUri, async (uri) => {
          const answer = await call('POST', notifyPath(uri), { via });
          expect(answer.status).toBe(201);
          expect(received[received.length - 1]!.roomUri).toBe(uri);
        }),
        { numRuns: ROUND_TRIPS },
      );
    });

    it('answers 400 for a badly percent-encoded segment', async () => {
      const answer = await call('POST', '/notify/mimi%3A%E0%A4%A');
      expect(answer).toMatchObject({ status: 400, json: { errcode: 'MIMI_BAD_VALUE' } });
      expect(received).toEqual([]);
    });

    it.each([
      ['NUL', '\u0000'],
      ['ESC', '\u001b'],
      ['DEL', '\u007f'],
      ['a tab', '\t'],
    ])('answers 400 for a room URI with %s in it, before any lookup (T44)', async (_what, control) => {
      const answer = await call('POST', `/notify/${encodeURIComponent(`mimi://${DOMAIN_B}/r/a${control}b`)}`);
      expect(answer).toMatchObject({ status: 400, json: { errcode: 'MIMI_BAD_VALUE' } });
      expect(received).toEqual([]);
    });

    it('answers 400 when the segment is not a MIMI room URI', async () => {
      const answer = await call('POST', `/notify/${encodeURIComponent('mimi://b.example/u/alice')}`);
      expect(answer).toMatchObject({ status: 400, json: { errcode: 'MIMI_BAD_VALUE' } });
    });
  });

  describe('errors', () => {
    it('answers an unknown route with 404 MIMI_NOT_FOUND', async () => {
      const answer = await call('POST', '/nope');
      expect(answer).toMatchObject({ status: 404, json: { errcode: 'MIMI_NOT_FOUND' } });
    });

    it('answers an unexpected failure with a generic 500 and keeps the cause to itself', async () => {
      const answer = await call('POST', `/groupInfo/${roomPathSegment(CLUB_ROOM)}`);
      expect(answer).toEqual(
        expect.objectContaining({ status: 500, json: { errcode: 'GW_INTERNAL', error: 'Internal server error' } }),
      );
    });
  });

  describe('MimiDirectoryController', () => {
    it('serves valid JSON listing the endpoints we serve, without asking for a certificate', async () => {
      const answer = await call('GET', MIMI_DIRECTORY_PATH, { via: agent() });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.headers['cache-control']).toBe('public, max-age=3600');
      const expected = buildDirectory(`https://${DOMAIN_B}:${port}`);
      expect(answer.json).toEqual(expected);
      expect(parseDirectory(answer.json)).toEqual(expected);
    });
  });

  describe('MimiPeerClient → this app, found through its directory', () => {
    it('delivers a notify over mutual TLS to the endpoint the directory names', async () => {
      configB.provider.publicBaseUrl = `https://${LOOPBACK_HOST}:${port}`;
      const configA = providerConfig(dir, DOMAIN_A, pki.a, pki.ca);
      const options = { directoryUrlFor: () => `https://${LOOPBACK_HOST}:${port}${MIMI_DIRECTORY_PATH}` };
      const registry = new PeerRegistry(configA, TransportTls.fromConfig(configA), options);
      try {
        const client = new MimiPeerClient(configA, registry, options);
        const outcome = await client.deliver(
          {
            id: 'outbox-1',
            destination: DOMAIN_B as ProviderDomain,
            endpoint: 'notify',
            roomUri: CLUB_ROOM,
            body: BINARY_BODY,
            attempt: 1,
          },
          new AbortController().signal,
        );
        expect(outcome).toEqual({ kind: 'delivered', status: 201 });
        expect(received).toEqual([{ peer: DOMAIN_A, roomUri: CLUB_ROOM, body: BINARY_BODY }]);
      } finally {
        configB.provider.publicBaseUrl = undefined;
        await registry.onModuleDestroy();
      }
    });
  });
});
