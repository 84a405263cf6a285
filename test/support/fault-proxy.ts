/**
 * A TCP fault proxy (node:net) for reliability tests: put it between two gateways, or between a
 * gateway and Synapse/Prosody, by pointing the client's config at `proxy.port` instead of the
 * target's. It forwards bytes both ways and injects, by seeded chance (fault-rng.ts):
 *
 * - drop: a new connection is closed at once, before anything reaches the target;
 * - delay: every chunk waits `delayMs` (+ up to `jitterMs`), order kept;
 * - reset: the connection is torn down with a TCP RST on both sides;
 * - truncate: half of the chunk is forwarded, then both sides are closed (FIN);
 * - stall: this chunk and every later one in that direction are swallowed; the connection stays
 *   open (a black hole: the sender's timeouts must fire);
 * - http: on a plain-HTTP link, a request is answered by the proxy itself with an error status
 *   (e.g. 503 with `Retry-After`, 429 with Matrix's `retry_after_ms`) and the connection closed;
 * - lose (one-shot, `loseResponse`): on a plain-HTTP link, the request whose bytes contain a
 *   given text reaches the target, which handles it; its response is cut (RST both ways) when its
 *   first byte comes back, so the client never learns the outcome and must retry.
 *
 * On plain-HTTP links every request's start line and the status of its answer are recorded in
 * `exchanges` (a request the client never got an answer to has no status, or `lost`).
 *
 * Rates are per direction (`up`: client → target, `down`: target → client) and can be switched at
 * runtime (`set`, `heal`, `cutAll`). Counters of what was injected are in `stats`.
 *
 *   const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: 8008 }, seed: 1 });
 *   proxy.set({ up: { resetRate: 0.05 }, down: { delayMs: 200 } });
 *   ...
 *   proxy.heal();
 *   await proxy.close();
 */
import { once } from 'node:events';
import { type AddressInfo, Server, Socket, connect, createServer } from 'node:net';
import { SeededRandom } from './fault-rng';

/** Faults applied to the bytes flowing one way. Rates are probabilities per chunk (0..1). */
interface DirectionFaults {
  readonly delayMs?: number;
  readonly jitterMs?: number;
  readonly resetRate?: number;
  readonly truncateRate?: number;
  readonly stallRate?: number;
}

/** An HTTP error the proxy answers in the target's place (plain-HTTP links only). */
interface HttpFault {
  /** Probability per request. */
  readonly rate: number;
  readonly status: number;
  /** Sent as `Retry-After` (seconds) and, on a 429, as the Matrix body's `retry_after_ms`. */
  readonly retryAfterS?: number;
}

export interface FaultSettings {
  /** Probability that a new connection is closed at once. */
  readonly dropRate?: number;
  /** Client → target. */
  readonly up?: DirectionFaults;
  /** Target → client. */
  readonly down?: DirectionFaults;
  readonly http?: HttpFault;
}

export type FaultKind = 'drop' | 'delay' | 'reset' | 'truncate' | 'stall' | 'http' | 'lose';

/** One request seen on a plain-HTTP link and what became of its answer. */
export interface HttpExchange {
  /** The request's start line, e.g. `PUT /_matrix/app/v1/transactions/7 HTTP/1.1`. */
  readonly request: string;
  /** The target's answer status (set when it came back through the proxy, or was cut). */
  status?: number;
  /** True when the answer was cut by `loseResponse`: the client never saw it. */
  lost?: boolean;
}

/** A `loseResponse` waiting for its request. */
interface LoseOrder {
  readonly match: string;
  readonly resolve: (x: HttpExchange) => void;
}

/** Exchanges kept in `FaultProxy.exchanges` (the oldest are dropped beyond this). */
const MAX_EXCHANGES = 10_000;
/** Bytes of a request kept for `loseResponse` matching (its start). */
const MATCH_WINDOW = 1 << 20;

export interface FaultProxyOptions {
  /** Where to forward to; a function is asked at every new connection (the target may move). */
  readonly target: { host: string; port: number } | (() => { host: string; port: number });
  /** Listen port (default: a free one). */
  readonly port?: number;
  readonly host?: string;
  readonly seed?: number;
  /** A name for error messages and logs. */
  readonly label?: string;
}

/** The start of an HTTP/1.1 request (a request line can be long: only the method is looked at). */
const HTTP_REQUEST_START = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) \//;

/** One proxied connection: the client's socket, the target's, and each direction's state. */
class Pipe {
  private readonly stalled = { up: false, down: false };
  private readonly nextAt = { up: 0, down: 0 };
  private closed = false;
  /** Requests sent on this connection whose answer has not come back yet, oldest first. */
  private readonly unanswered: { exchange: HttpExchange; lose: LoseOrder | undefined }[] = [];
  /** The start of the request being sent, while a `loseResponse` order waits for a match. */
  private requestText = '';

  constructor(
    private readonly proxy: FaultProxy,
    readonly client: Socket,
    readonly upstream: Socket,
  ) {
    client.on('data', (chunk: Buffer) => this.onChunk('up', chunk));
    upstream.on('data', (chunk: Buffer) => this.onChunk('down', chunk));
    client.on('end', () => this.endOf('up'));
    upstream.on('end', () => this.endOf('down'));
    for (const [s, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      s.on('error', () => this.destroy(false));
      s.on('close', (hadError) => {
        if (hadError) this.destroy(false);
        else other.end();
        if (client.destroyed && upstream.destroyed) proxy.forget(this);
      });
    }
  }

  /** The sender of direction `dir` finished: finish the other side too (unless the direction is stalled). */
  private endOf(dir: 'up' | 'down'): void {
    if (this.stalled[dir]) return;
    const to = dir === 'up' ? this.upstream : this.client;
    this.later(dir, () => to.end());
  }

  /** Follow HTTP requests and answers; true when this chunk was an answer to lose (the pipe is then reset). */
  private trackHttp(dir: 'up' | 'down', chunk: Buffer): boolean {
    const head = chunk.toString('latin1', 0, 9);
    if (dir === 'up') {
      if (HTTP_REQUEST_START.test(head)) {
        const line = chunk.toString('latin1', 0, Math.min(chunk.length, 2048)).split('\r\n')[0]!;
        this.unanswered.push({ exchange: this.proxy.exchange(line), lose: undefined });
        this.requestText = '';
      }
      const current = this.unanswered[this.unanswered.length - 1];
      const order = this.proxy.loseOrder;
      if (current !== undefined && current.lose === undefined && order !== undefined) {
        if (this.requestText.length < MATCH_WINDOW) this.requestText += chunk.toString('utf8');
        if (this.requestText.includes(order.match)) {
          current.lose = order;
          this.proxy.loseOrder = undefined;
        }
      }
      return false;
    }
    if (!head.startsWith('HTTP/1.')) return false;
    const answered = this.unanswered.shift();
    if (answered === undefined) return false;
    answered.exchange.status = Number(chunk.toString('latin1', 9, 12));
    if (answered.lose === undefined) return false;
    answered.exchange.lost = true;
    this.proxy.count('lose');
    this.destroy(true);
    answered.lose.resolve(answered.exchange);
    return true;
  }

  private onChunk(dir: 'up' | 'down', chunk: Buffer): void {
    if (this.closed || this.stalled[dir]) return;
    if (this.trackHttp(dir, chunk)) return;
    const f = this.proxy.settings[dir] ?? {};
    const rnd = this.proxy.random;
    const http = this.proxy.settings.http;
    if (dir === 'up' && http && HTTP_REQUEST_START.test(chunk.toString('latin1', 0, 8)) && rnd.chance(http.rate)) {
      this.proxy.count('http');
      this.client.end(httpErrorResponse(http));
      this.upstream.destroy();
      this.closed = true;
      return;
    }
    if (rnd.chance(f.resetRate ?? 0)) {
      this.proxy.count('reset');
      this.destroy(true);
      return;
    }
    if (rnd.chance(f.stallRate ?? 0)) {
      this.proxy.count('stall');
      this.stalled[dir] = true;
      return;
    }
    const to = dir === 'up' ? this.upstream : this.client;
    if (rnd.chance(f.truncateRate ?? 0)) {
      this.proxy.count('truncate');
      const part = chunk.subarray(0, Math.floor(chunk.length / 2));
      this.later(dir, () => {
        to.write(part);
        this.client.end();
        this.upstream.end();
        this.closed = true;
      });
      return;
    }
    this.later(dir, () => to.write(chunk));
  }

  /** Run `fn` after this direction's delay, after everything queued before it. */
  private later(dir: 'up' | 'down', fn: () => void): void {
    const f = this.proxy.settings[dir] ?? {};
    const delay = (f.delayMs ?? 0) + (f.jitterMs ? this.proxy.random.int(0, f.jitterMs) : 0);
    const now = Date.now();
    if (delay === 0 && this.nextAt[dir] <= now) {
      fn();
      return;
    }
    if (delay > 0) this.proxy.count('delay');
    const at = Math.max(now + delay, this.nextAt[dir]);
    this.nextAt[dir] = at;
    setTimeout(() => {
      if (!this.closed) fn();
    }, at - now).unref();
  }

  /** Close both sockets at once, with an RST when `reset`. */
  destroy(reset: boolean): void {
    this.closed = true;
    for (const sock of [this.client, this.upstream]) {
      if (sock.destroyed) continue;
      if (reset) {
        try {
          sock.resetAndDestroy();
        } catch {
          sock.destroy();
        }
      } else sock.destroy();
    }
    this.proxy.forget(this);
  }
}

function httpErrorResponse(f: HttpFault): string {
  const body = JSON.stringify({
    errcode: f.status === 429 ? 'M_LIMIT_EXCEEDED' : 'M_UNKNOWN',
    error: `injected by the fault proxy (${f.status})`,
    ...(f.status === 429 && f.retryAfterS !== undefined ? { retry_after_ms: f.retryAfterS * 1000 } : {}),
  });
  return [
    `HTTP/1.1 ${f.status} Injected`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    ...(f.retryAfterS !== undefined ? [`retry-after: ${f.retryAfterS}`] : []),
    'connection: close',
    '',
    body,
  ].join('\r\n');
}

export class FaultProxy {
  settings: FaultSettings = {};
  readonly random: SeededRandom;
  /** How many faults of each kind were injected since start. */
  readonly stats: Record<FaultKind, number> = { drop: 0, delay: 0, reset: 0, truncate: 0, stall: 0, http: 0, lose: 0 };
  /** Requests seen on plain-HTTP links, oldest first (at most MAX_EXCHANGES). */
  readonly exchanges: HttpExchange[] = [];
  /** @internal The `loseResponse` order waiting for its request. */
  loseOrder?: LoseOrder;
  /** Connections accepted since start. */
  accepted = 0;
  private readonly pipes = new Set<Pipe>();

  private constructor(
    private readonly server: Server,
    private readonly opts: FaultProxyOptions,
  ) {
    this.random = new SeededRandom(opts.seed ?? 1);
  }

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ pauseOnConnect: true });
    const proxy = new FaultProxy(server, opts);
    server.on('connection', (client) => proxy.accept(client));
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get label(): string {
    return this.opts.label ?? `proxy:${this.port}`;
  }

  /** Connections open now. */
  get open(): number {
    return this.pipes.size;
  }

  /** Replace the fault settings (applies to open connections too, from their next chunk). */
  set(settings: FaultSettings): void {
    this.settings = settings;
  }

  /** No more faults; stalled connections stay stalled (cut them with cutAll). */
  heal(): void {
    this.settings = {};
  }

  /**
   * Lose the answer to the next request (plain HTTP) whose bytes contain `match`: the request
   * reaches the target, and the connection is reset (both ways) when the answer's first byte
   * comes back. Resolves with that exchange once it was cut (its `status` is what the target
   * answered). One order at a time.
   */
  loseResponse(match: string): Promise<HttpExchange> {
    if (this.loseOrder !== undefined) throw new Error(`${this.label}: a loseResponse order is already waiting`);
    return new Promise((resolve) => (this.loseOrder = { match, resolve }));
  }

  /** @internal A request seen on a plain-HTTP link. */
  exchange(request: string): HttpExchange {
    const x: HttpExchange = { request };
    this.exchanges.push(x);
    if (this.exchanges.length > MAX_EXCHANGES) this.exchanges.shift();
    return x;
  }

  /** Tear down every open connection (RST). */
  cutAll(): void {
    for (const p of [...this.pipes]) p.destroy(true);
  }

  /** @internal */
  count(kind: FaultKind): void {
    this.stats[kind] += 1;
  }

  /** @internal */
  forget(pipe: Pipe): void {
    this.pipes.delete(pipe);
  }

  private accept(client: Socket): void {
    this.accepted += 1;
    if (this.random.chance(this.settings.dropRate ?? 0)) {
      this.count('drop');
      client.destroy();
      return;
    }
    const target = typeof this.opts.target === 'function' ? this.opts.target() : this.opts.target;
    const upstream = connect(target.port, target.host);
    this.pipes.add(new Pipe(this, client, upstream));
    client.resume();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
