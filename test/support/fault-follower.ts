/**
 * A MIMI follower stand-in for outbox reliability tests: an HTTPS server with mutual TLS on
 * loopback that records every request and answers it as its script says: `ok` (201), `error500`,
 * `busy503` (with `Retry-After`), `drip`: a slow-loris answer, the bytes of a 201 response
 * written one at a time every `dripIntervalMs` (the connection is never idle, so only a deadline
 * on the whole response stops the sender from waiting; T19), `hang` (no answer at all, T18),
 * `reset` (a TCP RST once the request is read) or `truncate` (a 201 whose body stops halfway,
 * then the connection closes; T20). The last four leave the arrival's status 0: the request was
 * received, its outcome unknown to the sender.
 *
 *   const peer = new ReceivingPeer(pki.b, pki.ca.certPem, SENDER);
 *   await peer.start();
 *   peer.script = ['error500', 'drip'];   // then `ok`
 *   ...
 *   peer.accepted();   // bodies answered 201, first copy only (a follower's dedupe)
 *
 * `startOutboxSender` starts the sending gateway (an application context whose outbox is fed
 * directly by the test).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../src/app.module';
import { resolveConfigPath, validateConfig } from '../../src/config/load-config';
import { matchesDomain } from '../../src/mimi/transport';
import { TransactionRunner } from '../../src/persistence';
import { OutboxService } from '../../src/replication';
import type { TestPki } from '../kits/mimi/transport-fixtures';
import { TestDatabase } from './test-data-source';

export type PeerMode = 'ok' | 'error500' | 'busy503' | 'drip' | 'hang' | 'reset' | 'truncate';

export interface Arrival {
  readonly url: string;
  readonly body: Buffer;
  readonly at: number;
  readonly from: string | undefined;
  readonly clientIsSender: boolean;
  /** SHA-256 of the body (hex) and its length, kept also when the body is not (`keepBodies = false`). */
  readonly digest: string;
  readonly size: number;
  /** The status answered (0: the sender cut a dripped answer), once answered. */
  status?: number;
  answeredAt?: number;
}

/** How a dripped answer ended: the sender cut the connection first, or the drip finished. */
export interface Drip {
  readonly startedAt: number;
  endedAt?: number;
  bytesSent: number;
  outcome?: 'cut by the sender' | 'finished';
}

const RETRY_AFTER_SECONDS = 1;
/** The sending gateway of SenderWorld. */
const SENDER_DOMAIN = 'a.example';
const DRIPPED_RESPONSE = Buffer.from(
  'HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nx-slow: dripped one byte at a time\r\ncontent-length: 0\r\n\r\n',
);

export class ReceivingPeer {
  static readonly RETRY_AFTER_SECONDS = RETRY_AFTER_SECONDS;
  readonly arrivals: Arrival[] = [];
  readonly drips: Drip[] = [];
  /** How the next requests are answered; consumed front to back, then `ok`. */
  script: PeerMode[] = [];
  /** Bodies answered 400 (a permanent rejection), whatever the script says. */
  rejectBody: (body: Buffer) => boolean = () => false;
  /** A status to answer `body` with (an error body with it), before the script; undefined: the script decides. */
  statusFor: (body: Buffer) => number | undefined = () => undefined;
  dripIntervalMs = 100;
  /** False: arrivals keep only the body's digest (an empty body), for runs of many messages. */
  keepBodies = true;
  private server?: Server;
  private readonly sockets = new Set<TLSSocket>();

  constructor(
    private readonly identity: { certPem: string; keyPem: string },
    private readonly caPem: string,
    private readonly senderDomain: string,
    public port = 0,
  ) {}

  /** TLS connections open now. */
  get openConnections(): number {
    return this.sockets.size;
  }

  async start(): Promise<void> {
    const server = createServer({
      key: this.identity.keyPem,
      cert: this.identity.certPem,
      ca: this.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const socket = req.socket as TLSSocket;
        const body = Buffer.concat(chunks);
        const arrival: Arrival = {
          url: req.url ?? '',
          body: this.keepBodies ? body : Buffer.alloc(0),
          digest: createHash('sha256').update(body).digest('hex'),
          size: body.length,
          at: Date.now(),
          from: req.headers.from,
          clientIsSender: matchesDomain(socket.getPeerCertificate(), this.senderDomain),
        };
        this.arrivals.push(arrival);
        const forced = this.statusFor(body);
        if (forced !== undefined) {
          arrival.status = forced;
          arrival.answeredAt = Date.now();
          res.writeHead(forced, { 'content-type': 'application/json' });
          res.end(
            forced === 204 ? undefined : JSON.stringify({ errcode: `HTTP_${forced}`, error: 'as the test asked' }),
          );
          return;
        }
        const mode = this.script.shift() ?? 'ok';
        if (mode === 'drip' && !this.rejectBody(body)) {
          this.drip(socket, arrival);
          return;
        }
        if (mode === 'hang' || mode === 'reset' || mode === 'truncate') {
          arrival.status = 0;
          arrival.answeredAt = Date.now();
          if (mode === 'reset') resetConnection(socket);
          if (mode === 'truncate') {
            socket.end(
              'HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n{"half of a body th',
            );
          }
          return;
        }
        const status = this.rejectBody(body) ? 400 : mode === 'error500' ? 500 : mode === 'busy503' ? 503 : 201;
        arrival.status = status;
        arrival.answeredAt = Date.now();
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

  /** Write a 201 answer on the raw socket, one byte per interval, until done or cut. */
  private drip(socket: TLSSocket, arrival: Arrival): void {
    const drip: Drip = { startedAt: Date.now(), bytesSent: 0 };
    this.drips.push(drip);
    // A dripped answer counts as 201 only if it finishes; until then the arrival has no status.
    const timer = setInterval(() => {
      if (socket.destroyed) return;
      socket.write(DRIPPED_RESPONSE.subarray(drip.bytesSent, drip.bytesSent + 1));
      drip.bytesSent += 1;
      if (drip.bytesSent === DRIPPED_RESPONSE.length) {
        clearInterval(timer);
        drip.outcome = 'finished';
        drip.endedAt = Date.now();
        arrival.status = 201;
        arrival.answeredAt = drip.endedAt;
      }
    }, this.dripIntervalMs);
    socket.once('close', () => {
      clearInterval(timer);
      if (drip.outcome !== undefined) return;
      drip.outcome = 'cut by the sender';
      drip.endedAt = Date.now();
      arrival.status = 0;
      arrival.answeredAt = drip.endedAt;
    });
  }

  /** How long a whole dripped answer takes. */
  get dripDurationMs(): number {
    return DRIPPED_RESPONSE.length * this.dripIntervalMs;
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
    const seen = new Set<string>();
    const out: Arrival[] = [];
    this.arrivals.forEach((a) => {
      if (a.status !== 201 || seen.has(a.digest)) return;
      seen.add(a.digest);
      out.push(a);
    });
    return out;
  }
}

/** A sending gateway with only its outbox to drive (no listener in use, no bridges). */
export interface OutboxSender {
  readonly app: INestApplicationContext;
  readonly tx: TransactionRunner;
  readonly outbox: OutboxService;
}

/**
 * Start gateway `domain` as an application context on `db`, its certificate `identity` written to
 * `dir`, with `peers` (domain → port on loopback) and the outbox settings `outbox` (quick retries
 * unless overridden; one message per request, since these peers' bodies are not FanoutMessages).
 */
export async function startOutboxSender(opts: {
  readonly dir: string;
  readonly domain: string;
  readonly identity: { certPem: string; keyPem: string };
  readonly caPem: string;
  readonly db: TestDatabase;
  readonly peers: Readonly<Record<string, number>>;
  readonly outbox?: Record<string, unknown>;
}): Promise<OutboxSender> {
  const { dir, db } = opts;
  writeFileSync(join(dir, 'a.crt'), opts.identity.certPem);
  writeFileSync(join(dir, 'a.key'), opts.identity.keyPem);
  writeFileSync(join(dir, 'ca.crt'), opts.caPem);
  const database =
    db.config.database.type === 'better-sqlite3'
      ? { type: 'better-sqlite3', path: resolveConfigPath(db.config, db.config.database.path) }
      : { type: 'postgres', url: db.config.database.url };
  const config = validateConfig(
    {
      provider: { domain: opts.domain },
      listen: { host: '127.0.0.1', port: 0 },
      tls: { certFile: 'a.crt', keyFile: 'a.key', caFiles: ['ca.crt'] },
      database,
      peers: Object.entries(opts.peers).map(([domain, port]) => ({ domain, baseUrl: `https://127.0.0.1:${port}` })),
      outbox: {
        concurrency: 4,
        initialBackoffMs: 20,
        maxBackoffMs: 200,
        requestTimeoutMs: 2000,
        pollIntervalMs: 50,
        coalesceMaxMessages: 1,
        ...opts.outbox,
      },
      admin: { enabled: false },
      logging: { level: 'error' },
    },
    { baseDir: dir, env: {} },
  );
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: false });
  await app.init();
  return { app, tx: app.get(TransactionRunner), outbox: app.get(OutboxService) };
}

/** Tear a TLS connection down with a TCP RST (on the TCP socket under it), or at least at once. */
function resetConnection(socket: TLSSocket): void {
  const tcp = (socket as unknown as { _parent?: Socket | null })._parent;
  try {
    (tcp ?? socket).resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/**
 * The sending side of an outbox reliability spec: gateway `a.example` (certificate `pki.a`) on a
 * fresh SQLite database in a temp folder; `start` starts it with its peers, `close` stops it and
 * removes everything.
 */
export class SenderWorld {
  sender?: OutboxSender;

  private constructor(
    private readonly pki: TestPki,
    private readonly dir: string,
    private readonly db: TestDatabase,
  ) {}

  static async create(pki: TestPki, prefix: string): Promise<SenderWorld> {
    return new SenderWorld(pki, mkdtempSync(join(tmpdir(), prefix)), await TestDatabase.create('sqlite'));
  }

  async start(peers: Readonly<Record<string, number>>, outbox?: Record<string, unknown>): Promise<OutboxSender> {
    this.sender = await startOutboxSender({
      dir: this.dir,
      domain: SENDER_DOMAIN,
      identity: this.pki.a,
      caPem: this.pki.ca.certPem,
      db: this.db,
      peers,
      outbox,
    });
    return this.sender;
  }

  async close(): Promise<void> {
    await this.sender?.app.close();
    this.sender = undefined;
    await this.db.drop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
