/**
 * A recording man-in-the-middle for one MIMI link (from → to), for tests only: it serves TLS with
 * the `to` provider's certificate, forwards every request unchanged to the real `to` gateway over
 * mutual TLS with the `from` provider's certificate, and records each exchange. The harness points
 * the `from` gateway's peer entry for `to` at the tap, so the test can capture real wire bytes (to
 * replay them) without touching either gateway. Both certificates come from the test's own PKI.
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import type { ProviderIdentity } from './e2e-clients';

export interface TappedExchange {
  readonly method: string;
  /** Path as sent (the room URI percent-encoded in one segment). */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly status: number;
  readonly responseBody: Buffer;
  /** When the tap had the whole request (ms since the epoch). */
  readonly sentAt: number;
  /** When the answer came back. */
  readonly at: number;
}

/** Hop-by-hop headers that must not be forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'content-length']);

export class TapProxy {
  readonly exchanges: TappedExchange[] = [];
  private readonly agent: Agent;

  private constructor(
    private readonly server: Server,
    readonly from: ProviderIdentity,
    readonly to: ProviderIdentity,
    private readonly targetUrl: () => string,
    caPem: string,
  ) {
    this.agent = new Agent({
      connect: { cert: from.certPem, key: from.keyPem, ca: caPem, servername: to.domain },
      keepAliveTimeout: 10_000,
    });
  }

  /**
   * Listen on 127.0.0.1:`port` presenting `to`'s certificate; forward to `targetUrl()` (read per
   * request, so a restarted target on the same port is found again).
   */
  static async start(opts: {
    from: ProviderIdentity;
    to: ProviderIdentity;
    caPem: string;
    port: number;
    targetUrl: () => string;
  }): Promise<TapProxy> {
    const server = createServer({
      cert: opts.to.certPem,
      key: opts.to.keyPem,
      ca: opts.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const tap = new TapProxy(server, opts.from, opts.to, opts.targetUrl, opts.caPem);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void tap.forward(req, res));
    server.listen(opts.port, '127.0.0.1');
    await once(server, 'listening');
    return tap;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Exchanges whose path starts with `/<endpoint>/`. */
  recorded(endpoint: string): TappedExchange[] {
    return this.exchanges.filter((x) => x.path.startsWith(`/${endpoint}/`));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
    await this.agent.close();
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const sentAt = Date.now();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      const upstream = await request(`${this.targetUrl()}${req.url ?? '/'}`, {
        method: (req.method ?? 'POST') as 'POST',
        headers,
        body: body.length > 0 ? body : undefined,
        dispatcher: this.agent,
      });
      const responseBody = Buffer.from(await upstream.body.arrayBuffer());
      this.exchanges.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        status: upstream.statusCode,
        responseBody,
        sentAt,
        at: Date.now(),
      });
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(upstream.headers)) {
        if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      res.writeHead(upstream.statusCode, out).end(responseBody);
    } catch (e) {
      // The target is down (stopped or killed): answer like an unreachable peer would be seen.
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errcode: 'GW_PEER_UNAVAILABLE', error: `tap: ${String(e)}` }));
    }
  }
}
