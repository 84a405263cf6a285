import { Logger } from '@nestjs/common';
import { issueProviderCertificate } from '../../../registration/dev-ca';
import { GatewayError } from '../../common/errors';
import { ProviderDomain } from '../../common/ids';
import { GatewayConfig } from '../../config/gateway-config';
import type { DeliveryOutcome, MimiEndpoint, OutboundDelivery } from '../../ports/delivery-target.port';
import { MimiPeerClient } from './mimi-peer.client';
import { roomPathSegment } from './mimi-paths';
import { PeerRegistry } from './peer-registry';
import {
  DOMAIN_A,
  DOMAIN_B,
  LOOPBACK_HOST,
  LOOPBACK_IPS,
  PemDir,
  ScriptedPeer,
  TestPki,
  createTestPki,
  providerConfig,
} from '../../../test/kits/mimi/transport-fixtures';
import { TransportTls } from './transport-tls';

const CLUB_ROOM = 'mimi://a.example/r/club';
const BODY = Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x4d, 0x49, 0x4d, 0x49]);
/** A whole second, so that HTTP-dates convert exactly. */
const NOW_MS = Date.UTC(2026, 4, 1, 12, 0, 0);
const TWO_MINUTES_MS = 120_000;
const SHORT_TIMEOUT_MS = 150;
const NORMAL_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_DELIVERIES = 6;

function delivery(endpoint: MimiEndpoint = 'notify', roomUri: string = CLUB_ROOM): OutboundDelivery {
  return { id: 'outbox-7', destination: DOMAIN_B as ProviderDomain, endpoint, roomUri, body: BODY, attempt: 1 };
}

describe(MimiPeerClient.name, () => {
  let pki: TestPki;
  let dir: PemDir;
  let peer: ScriptedPeer;
  const registries: PeerRegistry[] = [];

  /** Provider A's client, with B at `https://127.0.0.1:<port>`. */
  function clientTo(port: number, timeoutMs = NORMAL_TIMEOUT_MS): MimiPeerClient {
    const config: GatewayConfig = providerConfig(dir, DOMAIN_A, pki.a, pki.ca, {
      peers: [{ domain: DOMAIN_B, baseUrl: `https://${LOOPBACK_HOST}:${port}` }],
      outbox: { requestTimeoutMs: timeoutMs },
    });
    const options = { now: () => NOW_MS };
    const registry = new PeerRegistry(config, TransportTls.fromConfig(config), options);
    registries.push(registry);
    return new MimiPeerClient(config, registry, options);
  }

  const send = (client: MimiPeerClient, d = delivery()): Promise<DeliveryOutcome> =>
    client.deliver(d, new AbortController().signal);

  beforeAll(async () => {
    Logger.overrideLogger(false);
    pki = await createTestPki();
    dir = new PemDir();
    peer = await ScriptedPeer.start(pki.b, pki.ca);
  });

  afterAll(async () => {
    await Promise.all(registries.map((r) => r.onModuleDestroy()));
    await peer.close();
    dir.cleanup();
  });

  beforeEach(() => {
    peer.requests.length = 0;
    peer.script = (res) => res.writeHead(201).end();
  });

  describe('deliver', () => {
    it('POSTs the exact bytes with From, Host and Content-Type, presenting our certificate', async () => {
      const outcome = await send(clientTo(peer.port));
      expect(outcome).toEqual({ kind: 'delivered', status: 201 });
      expect(peer.requests).toEqual([
        {
          method: 'POST',
          url: `/notify/${roomPathSegment(CLUB_ROOM)}`,
          headers: expect.objectContaining({
            from: `mimi@${DOMAIN_A}`,
            host: `${DOMAIN_B}:${peer.port}`,
            'content-type': 'application/octet-stream',
            'content-length': String(BODY.length),
          }),
          body: BODY,
          clientAuthorized: true,
          clientIsA: true,
        },
      ]);
    });

    it('sends the stream order of a pipelined /notify and reports a peer that honours it', async () => {
      peer.script = (res) => res.writeHead(201, { 'mimi-gateway-stream-ordered': '1' }).end();
      const outcome = await send(clientTo(peer.port), { ...delivery(), streamOrder: { last: 12, after: 9 } });
      expect(outcome).toEqual({ kind: 'delivered', status: 201, streamOrdered: true });
      expect(peer.requests[0]!.headers).toMatchObject({
        'mimi-gateway-stream-seq': '12',
        'mimi-gateway-stream-after': '9',
      });
      // Without `after` (nothing unanswered before it), and without the header in the answer.
      peer.script = (res) => res.writeHead(201).end();
      expect(await send(clientTo(peer.port), { ...delivery(), streamOrder: { last: 13 } })).toEqual({
        kind: 'delivered',
        status: 201,
      });
      expect(peer.requests[1]!.headers['mimi-gateway-stream-seq']).toBe('13');
      expect(peer.requests[1]!.headers).not.toHaveProperty('mimi-gateway-stream-after');
    });

    it('returns the response body of a 200', async () => {
      const answer = Buffer.from([9, 8, 7]);
      peer.script = (res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(answer);
      const outcome = await send(clientTo(peer.port));
      expect(outcome).toEqual({ kind: 'delivered', status: 200, responseBody: new Uint8Array(answer) });
    });

    it.each([
      [500, {}, { kind: 'retry', reason: 'HTTP 500' }],
      [503, { 'retry-after': '7' }, { kind: 'retry', reason: 'HTTP 503', retryAfterMs: 7000 }],
      [
        503,
        { 'retry-after': new Date(NOW_MS + TWO_MINUTES_MS).toUTCString() },
        { kind: 'retry', reason: 'HTTP 503', retryAfterMs: TWO_MINUTES_MS },
      ],
      [408, {}, { kind: 'retry', reason: 'HTTP 408' }],
      [429, { 'retry-after': '3' }, { kind: 'retry', reason: 'HTTP 429', retryAfterMs: 3000 }],
      [404, {}, { kind: 'permanent', reason: 'HTTP 404', status: 404 }],
      [301, { location: 'https://elsewhere.example/' }, { kind: 'permanent', reason: 'HTTP 301', status: 301 }],
    ])('maps HTTP %i %j to %j', async (status, headers, expected) => {
      peer.script = (res) => res.writeHead(status, headers).end();
      await expect(send(clientTo(peer.port))).resolves.toEqual(expected);
    });

    it.each([
      [401, 'MIMI_UNAUTHENTICATED', { kind: 'retry', reason: 'HTTP 401 MIMI_UNAUTHENTICATED: x', peerAuthStatus: 401 }],
      [403, 'MIMI_FORBIDDEN', { kind: 'retry', reason: 'HTTP 403 MIMI_FORBIDDEN: x', peerAuthStatus: 403 }],
      [403, 'MIMI_NOT_ALLOWED', { kind: 'permanent', reason: 'HTTP 403 MIMI_NOT_ALLOWED: x', status: 403 }],
    ])(
      'backs off on a peer refusing us with %i %s instead of parking the row (T21)',
      async (status, errcode, expected) => {
        peer.script = (res) =>
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ errcode, error: 'x' }));
        await expect(send(clientTo(peer.port))).resolves.toEqual(expected);
      },
    );

    it('backs off on a bare 403 without an error body (T21)', async () => {
      peer.script = (res) => res.writeHead(403).end();
      await expect(send(clientTo(peer.port))).resolves.toEqual({
        kind: 'retry',
        reason: 'HTTP 403',
        peerAuthStatus: 403,
      });
    });

    it("makes other 4xx permanent with the status and the peer's errcode", async () => {
      peer.script = (res) =>
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errcode: 'MIMI_BAD_VALUE', error: 'epoch field truncated' }));
      await expect(send(clientTo(peer.port))).resolves.toEqual({
        kind: 'permanent',
        reason: 'HTTP 400 MIMI_BAD_VALUE: epoch field truncated',
        status: 400,
      });
    });

    it('keeps the errcode of a retryable answer in the reason', async () => {
      peer.script = (res) =>
        res.writeHead(503).end(JSON.stringify({ errcode: 'GW_PLATFORM_UNAVAILABLE', error: 'down' }));
      await expect(send(clientTo(peer.port))).resolves.toEqual({
        kind: 'retry',
        reason: 'HTTP 503 GW_PLATFORM_UNAVAILABLE: down',
      });
    });

    it('reuses keep-alive TLS connections across deliveries', async () => {
      const client = clientTo(peer.port);
      const before = peer.connections;
      for (let i = 0; i < KEEP_ALIVE_DELIVERIES; i++) expect((await send(client)).kind).toBe('delivered');
      // undici's pool may open a second connection while the first is still draining; never one per request.
      expect(peer.connections - before).toBeLessThanOrEqual(2);
    });

    it('retries when the peer refuses the connection', async () => {
      const down = await ScriptedPeer.start(pki.b, pki.ca);
      const port = down.port;
      await down.close();
      const outcome = await send(clientTo(port));
      expect(outcome).toMatchObject({ kind: 'retry', reason: expect.stringMatching(/unreachable.*ECONNREFUSED/) });
    });

    it('retries after outbox.requestTimeoutMs when the peer does not answer', async () => {
      peer.script = () => undefined;
      const seen = peer.nextRequest();
      const outcome = send(clientTo(peer.port, SHORT_TIMEOUT_MS));
      await seen;
      await expect(outcome).resolves.toEqual({
        kind: 'retry',
        reason: `no answer from ${DOMAIN_B} within ${SHORT_TIMEOUT_MS} ms`,
      });
    });

    it('retries when the caller aborts', async () => {
      peer.script = () => undefined;
      const abort = new AbortController();
      const seen = peer.nextRequest();
      const outcome = clientTo(peer.port).deliver(delivery(), abort.signal);
      await seen;
      abort.abort();
      await expect(outcome).resolves.toEqual({ kind: 'retry', reason: `request to ${DOMAIN_B} aborted` });
    });

    it('is never delivered to a server whose certificate names another domain (retry, not permanent)', async () => {
      const impostor = await ScriptedPeer.start(pki.cByCa, pki.ca);
      try {
        const outcome = await send(clientTo(impostor.port));
        expect(outcome).toMatchObject({
          kind: 'retry',
          reason: expect.stringMatching(
            /^TLS: b\.example presented a certificate we do not accept .*does not authenticate b\.example/,
          ),
        });
        expect(impostor.requests).toEqual([]);
      } finally {
        await impostor.close();
      }
    });

    it('is never delivered to a server whose certificate comes from an unknown CA', async () => {
      const stranger = await ScriptedPeer.start(
        await issueProviderCertificate(pki.strangerCa, DOMAIN_B, { ipAddresses: LOOPBACK_IPS }),
        pki.ca,
      );
      try {
        const outcome = await send(clientTo(stranger.port));
        expect(outcome).toMatchObject({ kind: 'retry', reason: expect.stringMatching(/^TLS: /) });
        expect(stranger.requests).toEqual([]);
      } finally {
        await stranger.close();
      }
    });

    it('is never delivered to a server whose certificate from the trusted CA has expired (T25)', async () => {
      const DAY_MS = 86_400_000;
      const expired = await ScriptedPeer.start(
        await issueProviderCertificate(pki.ca, DOMAIN_B, {
          ipAddresses: LOOPBACK_IPS,
          now: new Date(Date.now() - 30 * DAY_MS),
          validDays: 1,
        }),
        pki.ca,
      );
      try {
        const outcome = await send(clientTo(expired.port));
        expect(outcome).toMatchObject({ kind: 'retry', reason: expect.stringMatching(/^TLS: .*expired/i) });
        expect(expired.requests).toEqual([]);
      } finally {
        await expired.close();
      }
    });

    it('parks a delivery whose room URI cannot be put in a path', async () => {
      const outcome = await send(clientTo(peer.port), delivery('notify', 'not-a-mimi-uri'));
      expect(outcome).toMatchObject({ kind: 'permanent', reason: expect.stringMatching(/not a MIMI URI/) });
      expect(peer.requests).toEqual([]);
    });
  });

  describe('request', () => {
    it('returns the status and body bytes of a synchronous endpoint', async () => {
      const answer = Buffer.from([0, 1, 2, 250]);
      peer.script = (res) => res.writeHead(200).end(answer);
      const res = await clientTo(peer.port).request(DOMAIN_B, 'submitMessage', CLUB_ROOM, BODY);
      expect(res.status).toBe(200);
      expect(Buffer.from(res.body)).toEqual(answer);
      expect(peer.requests[0]!.url).toBe(`/submitMessage/${roomPathSegment(CLUB_ROOM)}`);
    });

    it('returns error statuses instead of throwing', async () => {
      peer.script = (res) => res.writeHead(409).end('{"errcode":"MIMI_WRONG_EPOCH","error":"epoch 3"}');
      const res = await clientTo(peer.port).request(DOMAIN_B, 'update', CLUB_ROOM, BODY);
      expect(res.status).toBe(409);
      expect(JSON.parse(Buffer.from(res.body).toString('utf8'))).toEqual({
        errcode: 'MIMI_WRONG_EPOCH',
        error: 'epoch 3',
      });
    });

    it('throws a retryable GatewayError when there is no answer', async () => {
      const down = await ScriptedPeer.start(pki.b, pki.ca);
      const port = down.port;
      await down.close();
      const failure = clientTo(port).request(DOMAIN_B, 'groupInfo', CLUB_ROOM, BODY);
      await expect(failure).rejects.toBeInstanceOf(GatewayError);
      await expect(failure).rejects.toMatchObject({ retryable: true, code: 'GW_PEER_UNAVAILABLE' });
    });
  });
});
