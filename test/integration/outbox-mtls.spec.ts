import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:https';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../src/app.module';
import { ProviderDomain, RoomUri, roomUri } from '../../src/common/ids';
import { resolveConfigPath, validateConfig } from '../../src/config/load-config';
import { matchesDomain } from '../../src/mimi/transport';
import { createTestPki, TestPki } from '../kits/mimi/transport-fixtures';
import { OutboxRepository, TransactionRunner } from '../../src/persistence';
import { OutboxStatus } from '../../src/persistence/repositories/outbox.repository';
import { OutboxService } from '../../src/replication';
import { DATABASE_KINDS, TestDatabase } from '../support/test-data-source';

/**
 * The outbox against a REAL mutual-TLS peer on loopback (issue #2, "Done means"): the receiving
 * peer is down, then answers 500, then 503 with Retry-After, then comes back. Every message
 * arrives once, in order per room, byte-identical; another destination is not held back.
 */
const SENDER = 'a.example';
const SLOW_PEER = 'b.example';
const HEALTHY_PEER = 'c.example';
const ROOM_1 = roomUri(SENDER, 'outbox-room-1');
const ROOM_2 = roomUri(SENDER, 'outbox-room-2');
const RETRY_AFTER_SECONDS = 1;

type Mode = 'ok' | 'error500' | 'busy503';

interface Arrival {
  readonly url: string;
  readonly body: Buffer;
  readonly at: number;
  readonly from: string | undefined;
  readonly clientIsSender: boolean;
}

/** A follower stand-in: mutual TLS, records every request, dedupes byte-identical bodies. */
class ReceivingPeer {
  readonly arrivals: Arrival[] = [];
  readonly responses: { status: number; at: number }[] = [];
  /** How the next requests are answered; consumed front to back, then `ok`. */
  script: Mode[] = [];
  /** Bodies answered 400 (a permanent rejection), whatever the script says. */
  rejectBody: (body: Buffer) => boolean = () => false;
  private server?: Server;
  private readonly seen = new Set<string>();

  constructor(
    private readonly identity: { certPem: string; keyPem: string },
    private readonly caPem: string,
    public port = 0,
  ) {}

  async start(): Promise<void> {
    const server = createServer({
      key: this.identity.keyPem,
      cert: this.identity.certPem,
      ca: this.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const socket = req.socket as TLSSocket;
        const body = Buffer.concat(chunks);
        this.arrivals.push({
          url: req.url ?? '',
          body,
          at: Date.now(),
          from: req.headers.from,
          clientIsSender: matchesDomain(socket.getPeerCertificate(), SENDER),
        });
        const mode = this.script.shift() ?? 'ok';
        const status = this.rejectBody(body) ? 400 : mode === 'ok' ? 201 : mode === 'error500' ? 500 : 503;
        this.responses.push({ status, at: Date.now() });
        if (mode === 'busy503') res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status === 400 ? JSON.stringify({ errcode: 'MIMI_MALFORMED', error: 'cannot parse' }) : undefined);
      });
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
    this.server = undefined;
  }

  /** Bodies accepted (201), first copy only, as a MIMI follower keeps them. */
  accepted(): Arrival[] {
    const out: Arrival[] = [];
    this.arrivals.forEach((a, i) => {
      if (this.responses[i]?.status !== 201) return;
      const digest = createHash('sha256').update(a.body).digest('hex');
      if (this.seen.has(digest)) return;
      this.seen.add(digest);
      out.push(a);
    });
    this.seen.clear();
    return out;
  }
}

/** Poll `probe` until it returns a value. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await eventually(async () => (check() ? true : undefined), what, timeoutMs);
}

function message(room: RoomUri, i: number): Buffer {
  return Buffer.from(`fanout ${room} #${String(i).padStart(4, '0')}`);
}

describe.each(DATABASE_KINDS)('outbox over mutual TLS (%s)', (kind) => {
  let pki: TestPki;
  let dir: string;
  let db: TestDatabase;
  let slow: ReceivingPeer;
  let healthy: ReceivingPeer;
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    pki = await createTestPki();
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-mtls-'));
    db = await TestDatabase.create(kind);
    slow = new ReceivingPeer(pki.b, pki.ca.certPem);
    healthy = new ReceivingPeer(pki.cByCa, pki.ca.certPem);
    await slow.start();
    await healthy.start();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await slow.stop();
    await healthy.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startSender(): Promise<{ tx: TransactionRunner; outbox: OutboxService }> {
    writeFileSync(join(dir, 'a.crt'), pki.a.certPem);
    writeFileSync(join(dir, 'a.key'), pki.a.keyPem);
    writeFileSync(join(dir, 'ca.crt'), pki.ca.certPem);
    const database =
      db.config.database.type === 'better-sqlite3'
        ? { type: 'better-sqlite3', path: resolveConfigPath(db.config, db.config.database.path) }
        : { type: 'postgres', url: db.config.database.url };
    const config = validateConfig(
      {
        provider: { domain: SENDER },
        listen: { host: '127.0.0.1', port: 0 },
        tls: { certFile: 'a.crt', keyFile: 'a.key', caFiles: ['ca.crt'] },
        database,
        peers: [
          { domain: SLOW_PEER, baseUrl: `https://127.0.0.1:${slow.port}` },
          { domain: HEALTHY_PEER, baseUrl: `https://127.0.0.1:${healthy.port}` },
        ],
        outbox: {
          concurrency: 4,
          initialBackoffMs: 20,
          maxBackoffMs: 200,
          requestTimeoutMs: 2000,
          pollIntervalMs: 50,
          // This peer takes one message per request (its bodies are not FanoutMessages).
          coalesceMaxMessages: 1,
        },
        admin: { enabled: false },
        logging: { level: 'error' },
      },
      { baseDir: dir, env: {} },
    );
    app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: false });
    await app.init();
    return { tx: app.get(TransactionRunner), outbox: app.get(OutboxService) };
  }

  it('delivers every message once, in order, byte-identical, through down / 500 / 503 Retry-After / back', async () => {
    await slow.stop(); // the peer is down when the messages are written
    const { tx, outbox } = await startSender();
    const perRoom = 15;
    for (let i = 0; i < perRoom; i += 1) {
      await tx.run((t) =>
        outbox.enqueueAll(t, [
          {
            destination: SLOW_PEER as ProviderDomain,
            roomUri: ROOM_1,
            endpoint: 'notify',
            body: message(ROOM_1, i),
            idempotencyKey: `r1-${i}@b`,
          },
          {
            destination: SLOW_PEER as ProviderDomain,
            roomUri: ROOM_2,
            endpoint: 'notify',
            body: message(ROOM_2, i),
            idempotencyKey: `r2-${i}@b`,
          },
          {
            destination: HEALTHY_PEER as ProviderDomain,
            roomUri: ROOM_1,
            endpoint: 'notify',
            body: message(ROOM_1, i),
            idempotencyKey: `r1-${i}@c`,
          },
        ]),
      );
    }

    // The healthy destination is served while the other is down; the down one was tried (its
    // connection refused) and its messages wait, neither delivered nor parked.
    await waitFor(() => healthy.accepted().length === perRoom, 10_000, 'the healthy peer');
    const rows = app!.get(OutboxRepository);
    for (const key of ['r1-0@b', 'r2-0@b']) {
      const tried = await eventually(async () => {
        const row = await rows.findByIdempotencyKey(key);
        return row !== undefined && row.attempts >= 1 ? row : undefined;
      }, `an attempt at ${key}`);
      expect(tried).toMatchObject({ status: OutboxStatus.Pending, deliveredAt: null, lastError: expect.any(String) });
    }

    // The slow peer comes back answering 500 twice, then 503 with Retry-After, then normally.
    slow.script = ['error500', 'error500', 'busy503'];
    await slow.start();
    await waitFor(() => slow.accepted().length === 2 * perRoom, 20_000, 'the recovered peer');

    const accepted = slow.accepted();
    for (const room of [ROOM_1, ROOM_2]) {
      const bodies = accepted.filter((a) => a.body.toString().startsWith(`fanout ${room} `)).map((a) => a.body);
      expect(bodies).toEqual(Array.from({ length: perRoom }, (_, i) => message(room, i)));
    }
    // Retries carried the identical bytes: every body the peer saw is one that was enqueued.
    const enqueued = new Set(
      [ROOM_1, ROOM_2].flatMap((r) => Array.from({ length: perRoom }, (_, i) => message(r, i).toString())),
    );
    expect(slow.arrivals.every((a) => enqueued.has(a.body.toString()))).toBe(true);
    expect(slow.arrivals.length).toBeGreaterThanOrEqual(2 * perRoom + 3);
    // Every request came over mutual TLS as the sender, with From naming it, to the room's notify path.
    expect(slow.arrivals.every((a) => a.clientIsSender && a.from === `mimi@${SENDER}`)).toBe(true);
    expect(slow.arrivals[0]!.url).toMatch(/^\/notify\/mimi%3A%2F%2Fa\.example%2Fr%2Foutbox-room-/);
    // Retry-After was honoured: the stream that got the 503 waited at least that long.
    const busyIndex = slow.responses.findIndex((r) => r.status === 503);
    const busyUrl = slow.arrivals[busyIndex]!.url;
    const nextOnStream = slow.arrivals.slice(busyIndex + 1).find((a) => a.url === busyUrl)!;
    expect(nextOnStream.at - slow.responses[busyIndex]!.at).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000 - 50);
  });

  it('parks a message the peer rejects permanently and delivers the rest of the stream', async () => {
    const { tx, outbox } = await startSender();
    const bad = Buffer.from('a body the peer cannot parse');
    slow.rejectBody = (body) => body.equals(bad);
    const good = [message(ROOM_1, 1), message(ROOM_1, 2)];
    await tx.run((t) =>
      outbox.enqueueAll(t, [
        {
          destination: SLOW_PEER as ProviderDomain,
          roomUri: ROOM_1,
          endpoint: 'notify',
          body: good[0]!,
          idempotencyKey: 'p-1',
        },
        {
          destination: SLOW_PEER as ProviderDomain,
          roomUri: ROOM_1,
          endpoint: 'notify',
          body: bad,
          idempotencyKey: 'p-bad',
        },
        {
          destination: SLOW_PEER as ProviderDomain,
          roomUri: ROOM_1,
          endpoint: 'notify',
          body: good[1]!,
          idempotencyKey: 'p-2',
        },
      ]),
    );
    await waitFor(() => slow.accepted().length === 2, 10_000, 'the good messages');
    expect(slow.accepted().map((a) => a.body)).toEqual(good);
    expect(slow.arrivals.filter((a) => a.body.equals(bad))).toHaveLength(1);
    const parked = await outbox.listParked({ limit: 10 });
    expect(parked.map((p) => p.idempotencyKey)).toEqual(['p-bad']);
    expect(parked[0]!.lastError).toMatch(/400/);
  });
});
