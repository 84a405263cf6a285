/**
 * A canary for SSRF tests (RELIABILITY T27): a TCP listener on loopback that counts every
 * connection made to it (plain HTTP, a TLS handshake, anything) and answers HTTP requests with
 * 200 "canary". A test names it in URLs the gateway must never fetch, then checks `hits` is 0.
 */
import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export class CanaryServer {
  /** Connections accepted so far. */
  hits = 0;
  /** The request lines seen (`GET /path`), for a failure message. */
  readonly requests: string[] = [];

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(host = '127.0.0.1'): Promise<CanaryServer> {
    const server = createServer((req, res) => {
      canary.requests.push(`${req.method ?? '?'} ${req.url ?? '?'}`);
      res.writeHead(200, { 'content-type': 'image/png' }).end('canary');
    });
    server.on('connection', () => canary.hits++);
    server.listen(0, host);
    await once(server, 'listening');
    const canary: CanaryServer = new CanaryServer(server, host, (server.address() as AddressInfo).port);
    return canary;
  }

  /** `scheme://host:port/path` of this canary (IPv6 hosts in brackets). */
  url(path = '/', scheme = 'http'): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `${scheme}://${host}:${this.port}${path}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}
