/**
 * Issue 14's hostile run: connections that never start TLS, and TLS connections that stall in
 * the request headers, stayed open for good; nothing bounded the connections of one address.
 * A real gateway (MIMI listener with mutual TLS) with short timeouts and a small per-address cap.
 */
import { once } from 'node:events';
import { type Socket, connect as tcpConnect } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type RunningGateway, startGateway } from '../../src/main';
import { MemoryPlatform } from '../fakes/memory-platform';
import {
  DOMAIN_A,
  LOOPBACK_HOST,
  PemDir,
  type TestPki,
  createTestPki,
  providerConfig,
} from '../kits/mimi/transport-fixtures';

const TIMEOUT_MS = 400;
const PER_ADDRESS = 3;
/** Far above TIMEOUT_MS, far below Node's defaults (120 s handshake, 60 s headers). */
const CLOSED_WITHIN_MS = 5_000;

/** Resolves with how the socket ended; rejects when it is still open after `withinMs`. */
function closed(socket: Socket, withinMs = CLOSED_WITHIN_MS): Promise<void> {
  socket.on('error', () => undefined);
  socket.resume();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${withinMs} ms`)), withinMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('MIMI listener connection limits', () => {
  let pki: TestPki;
  let dir: PemDir;
  let gateway: RunningGateway;
  let port: number;

  beforeAll(async () => {
    pki = await createTestPki();
    dir = new PemDir();
    const config = providerConfig(dir, DOMAIN_A, pki.a, pki.ca, {
      database: { type: 'better-sqlite3', path: 'a.sqlite' },
      admin: { enabled: false },
      logging: { level: 'error' },
      limits: {
        connections: { handshakeTimeoutMs: TIMEOUT_MS, headersTimeoutMs: TIMEOUT_MS, perAddress: PER_ADDRESS },
      },
    });
    gateway = await startGateway(config, { bridges: [new MemoryPlatform()] });
    port = Number(new URL(gateway.mimiUrl).port);
  });
  afterAll(async () => {
    await gateway?.close();
    dir?.cleanup();
  });

  const tls = async (): Promise<TLSSocket> => {
    const socket = tlsConnect({
      host: LOOPBACK_HOST,
      port,
      servername: DOMAIN_A,
      key: pki.b.keyPem,
      cert: pki.b.certPem,
      ca: pki.ca.certPem,
    });
    await once(socket, 'secureConnect');
    return socket;
  };

  it('closes a connection that never sends a ClientHello after the handshake timeout', async () => {
    const socket = tcpConnect(port, LOOPBACK_HOST);
    await once(socket, 'connect');
    await closed(socket);
  });

  it('closes a TLS connection that stalls in the request headers after the headers timeout', async () => {
    const socket = await tls();
    socket.write(`POST /notify/x HTTP/1.1\r\nHost: ${DOMAIN_A}\r\nFrom: mimi@b.example\r\n`);
    await closed(socket);
  });

  it('closes a TLS connection that sends nothing after the handshake', async () => {
    await closed(await tls());
  });

  it(`refuses connection ${PER_ADDRESS + 1} from one address, and takes new ones once some close`, async () => {
    const held = [];
    for (let i = 0; i < PER_ADDRESS; i++) held.push(await tls());
    const refused = tlsConnect({ host: LOOPBACK_HOST, port, servername: DOMAIN_A, ca: pki.ca.certPem });
    let secured = false;
    refused.once('secureConnect', () => (secured = true));
    await closed(refused, TIMEOUT_MS);
    expect(secured).toBe(false);
    const gone = closed(held[0]!);
    held[0]!.destroy();
    await gone;
    // The server sees the close a moment after the client; retry briefly.
    let admitted: TLSSocket | undefined;
    for (let attempt = 0; admitted === undefined && attempt < 20; attempt++) {
      admitted = await tls().catch(() => undefined);
    }
    expect(admitted).toBeDefined();
    for (const s of [...held, admitted!]) s.destroy();
  });
});
