import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { errorMessage } from '../../src/common/errors';
import { MAX_EVENT_DEPTH, deeperThan } from './json-depth';

/**
 * The homeserver → appservice HTTP API (Matrix AS API v1.15: transactions, user and room alias
 * queries, ping), served by the bridge itself instead of `matrix-appservice`'s AppService, which
 * 10.3.3 uses as-is (matrix-appservice 2.0.0) and which (RELIABILITY §1.2):
 *   - acknowledges a transaction before any handler ran (a crash after the 200 loses it),
 *   - remembers only the last transaction ID, in memory,
 *   - compares the hs_token with `!==` and takes it from `?access_token=` when the header is absent,
 *     without checking the `Bearer ` scheme,
 *   - caps bodies at 5 MB, below the largest legal transaction (100 events × 64 KiB), and a 413
 *     would make Synapse retry that transaction forever.
 *
 * Here: the hs_token must come in `Authorization: Bearer` and is compared in constant time (over
 * SHA-256 digests, so the length does not leak either); a legacy `access_token` query parameter,
 * if also present, must match too (AS API: "ensure both match"); a token only in the query is
 * refused (401), as Synapse ≥ 1.90 never sends one by default. A transaction is answered 200 only
 * once its handler resolved; duplicates of a transaction in flight wait for it; completed IDs
 * are remembered (bounded) with a digest of their events' IDs, so a replay has no second effect.
 * A remembered ID arriving with other events is not a replay: after a homeserver database reset
 * Synapse numbers its transactions from 1 again, and answering those from memory would drop them
 * (RELIABILITY T03). They are handled, with a warning.
 */

export type TransactionOutcome = 'ack' | 'retry';

export interface AppserviceHandlers {
  /** Handle every event of a transaction; `retry` answers 503 so the homeserver sends it again. */
  /** `ephemeral`: the transaction's ephemeral events (receipts: read-receipts.ts). */
  onTransaction(txnId: string, events: readonly unknown[], ephemeral: readonly unknown[]): Promise<TransactionOutcome>;
  /** True when the user exists now (created by the handler), false for 404. */
  onUserQuery(userId: string): Promise<boolean>;
  /** True when the alias exists now (created by the handler), false for 404. */
  onAliasQuery(alias: string): Promise<boolean>;
}

export interface AppserviceServerOptions {
  readonly hsToken: string;
  readonly handlers: AppserviceHandlers;
  /** Body limit. Default 16 MiB (RELIABILITY §1.2 duty 7). */
  readonly maxBodyBytes?: number;
  /** Completed transaction IDs remembered for replay detection. Default 4096. */
  readonly rememberTransactions?: number;
}

const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
const TXN_PATH = /^\/_matrix\/app\/v1\/transactions\/([^/]+)$/;
const USER_PATH = /^\/_matrix\/app\/v1\/users\/([^/]+)$/;
const ROOM_PATH = /^\/_matrix\/app\/v1\/rooms\/([^/]+)$/;
const PING_PATH = '/_matrix/app/v1/ping';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * The ephemeral events of a transaction body (receipts, when the registration has
 * `receive_ephemeral`): the stable key first, else MSC2409's; the two carry the same list.
 */
function ephemeralOf(body: unknown): readonly unknown[] {
  if (typeof body !== 'object' || body === null) return [];
  const b = body as Record<string, unknown>;
  const list = b['ephemeral'] ?? b['de.sorunome.msc2409.ephemeral'];
  return Array.isArray(list) ? list : [];
}

/**
 * What identifies a transaction's content: its events' IDs in order (an event without one, such
 * as an ephemeral event, by its JSON). Not the raw body: a homeserver's retry of the same
 * transaction may serialise fields like `unsigned.age` differently.
 */
function transactionDigest(events: readonly unknown[]): string {
  const h = createHash('sha256');
  for (const ev of events) {
    const id = typeof ev === 'object' && ev !== null ? (ev as { event_id?: unknown }).event_id : undefined;
    h.update(typeof id === 'string' ? `id:${id}` : `json:${JSON.stringify(ev)}`, 'utf8');
    h.update('\0');
  }
  return h.digest('base64url');
}

/** Constant-time string equality (the digests have a fixed length, so the length does not leak). */
export function tokensEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export type AuthResult = 'ok' | 'missing' | 'forbidden';

/** AS API "Authorization": `Authorization: Bearer <hs_token>`; a legacy query token must agree. */
export function checkHomeserverAuth(
  authorization: string | undefined,
  queryToken: string | string[] | undefined,
  hsToken: string,
): AuthResult {
  if (authorization === undefined) return 'missing';
  const m = /^Bearer ([^\s]+)$/i.exec(authorization.trim());
  if (!m) return 'forbidden';
  if (!tokensEqual(m[1]!, hsToken)) return 'forbidden';
  if (queryToken !== undefined) {
    if (Array.isArray(queryToken) || !tokensEqual(queryToken, hsToken)) return 'forbidden';
  }
  return 'ok';
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new HttpError(413, 'M_TOO_LARGE', `body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new HttpError(413, 'M_TOO_LARGE', `body over ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export class AppserviceServer {
  private readonly logger = new Logger(AppserviceServer.name);
  private server?: Server;
  /** Completed transaction ID → digest of its events (transactionDigest), oldest first. */
  private readonly completed = new Map<string, string>();
  private readonly inFlight = new Map<string, Promise<TransactionOutcome>>();
  private readonly maxBody: number;
  private readonly remember: number;

  constructor(private readonly opts: AppserviceServerOptions) {
    this.maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.remember = opts.rememberTransactions ?? 4096;
  }

  /** Listen; resolves with the bound port. */
  async listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => void this.route(req, res));
    server.keepAliveTimeout = 75_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Whether a transaction ID was already handled to completion (tests, metrics). */
  hasCompleted(txnId: string): boolean {
    return this.completed.has(txnId);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://appservice');
    const path = url.pathname;
    try {
      if (path === '/health' && req.method === 'GET') {
        send(res, 200, {});
        return;
      }
      const known = TXN_PATH.test(path) || USER_PATH.test(path) || ROOM_PATH.test(path) || path === PING_PATH;
      if (!known) throw new HttpError(404, 'M_UNRECOGNIZED', 'unknown endpoint');
      const q = url.searchParams.getAll('access_token');
      const queryToken = q.length === 0 ? undefined : q.length === 1 ? q[0] : q;
      const auth = checkHomeserverAuth(req.headers.authorization, queryToken, this.opts.hsToken);
      if (auth === 'missing') throw new HttpError(401, 'M_UNAUTHORIZED', 'missing Authorization: Bearer header');
      if (auth === 'forbidden') throw new HttpError(403, 'M_FORBIDDEN', 'bad hs_token');
      const txn = TXN_PATH.exec(path);
      if (txn) {
        if (req.method !== 'PUT') throw new HttpError(405, 'M_UNRECOGNIZED', 'method not allowed');
        await this.transaction(decodeURIComponent(txn[1]!), req, res);
        return;
      }
      const user = USER_PATH.exec(path);
      if (user) {
        if (req.method !== 'GET') throw new HttpError(405, 'M_UNRECOGNIZED', 'method not allowed');
        const ok = await this.opts.handlers.onUserQuery(decodeURIComponent(user[1]!));
        send(res, ok ? 200 : 404, ok ? {} : { errcode: 'M_NOT_FOUND', error: 'no such user' });
        return;
      }
      const room = ROOM_PATH.exec(path);
      if (room) {
        if (req.method !== 'GET') throw new HttpError(405, 'M_UNRECOGNIZED', 'method not allowed');
        const ok = await this.opts.handlers.onAliasQuery(decodeURIComponent(room[1]!));
        send(res, ok ? 200 : 404, ok ? {} : { errcode: 'M_NOT_FOUND', error: 'no such room alias' });
        return;
      }
      // AS API v1.7 ping: the homeserver checks we are reachable and accept its token.
      if (req.method !== 'POST') throw new HttpError(405, 'M_UNRECOGNIZED', 'method not allowed');
      await readBody(req, this.maxBody);
      send(res, 200, {});
    } catch (e) {
      if (e instanceof HttpError) {
        if (e.status >= 500 || e.status === 401 || e.status === 403) {
          this.logger.warn(`${req.method} ${path}: ${e.status} ${e.errcode}`);
        }
        send(res, e.status, { errcode: e.errcode, error: e.message });
        return;
      }
      this.logger.error(`${req.method} ${path}: ${errorMessage(e)}`);
      send(res, 500, { errcode: 'M_UNKNOWN', error: 'internal error' });
    }
  }

  private async transaction(txnId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, this.maxBody);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new HttpError(400, 'M_NOT_JSON', 'body is not JSON');
    }
    const events = typeof body === 'object' && body !== null ? (body as { events?: unknown }).events : undefined;
    if (!Array.isArray(events)) throw new HttpError(400, 'M_BAD_JSON', 'events must be a list');
    const ephemeral = ephemeralOf(body);
    // Before anything walks them (the digest stringifies ephemeral events): a nesting bomb would
    // overflow the stack and fail the transaction on every retry of the homeserver.
    const [bounded, boundedEphemeral] = [this.withinDepth(txnId, events), this.withinDepth(txnId, ephemeral)];
    const contentDigest = transactionDigest([...bounded, ...boundedEphemeral]);
    const seen = this.completed.get(txnId);
    if (seen === contentDigest) {
      this.logger.debug(`transaction ${txnId} replayed: already handled`);
      send(res, 200, {});
      return;
    }
    if (seen !== undefined) {
      this.logger.warn(`transaction ${txnId} reused with different events (homeserver database reset?): handling them`);
    }
    const key = `${txnId}\0${contentDigest}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.opts.handlers
        .onTransaction(txnId, bounded, boundedEphemeral)
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    const outcome = await pending;
    if (outcome === 'retry') {
      send(res, 503, { errcode: 'M_UNKNOWN', error: 'not all events could be recorded; send the transaction again' });
      return;
    }
    this.completed.delete(txnId);
    this.completed.set(txnId, contentDigest);
    if (this.completed.size > this.remember) {
      const oldest = this.completed.keys().next().value;
      if (oldest !== undefined) this.completed.delete(oldest);
    }
    send(res, 200, {});
  }

  /** `events` without those nested deeper than MAX_EVENT_DEPTH, each dropped one logged. */
  private withinDepth(txnId: string, events: readonly unknown[]): readonly unknown[] {
    return events.filter((ev) => {
      if (!deeperThan(ev, MAX_EVENT_DEPTH)) return true;
      const id = typeof ev === 'object' && ev !== null ? (ev as { event_id?: unknown }).event_id : undefined;
      this.logger.warn(
        `transaction ${txnId}: dropped event ${typeof id === 'string' ? id : '(no event_id)'}: JSON nested deeper than ${MAX_EVENT_DEPTH}`,
      );
      return false;
    });
  }
}
