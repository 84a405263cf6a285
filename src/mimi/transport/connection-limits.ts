/**
 * What one client may cost a listener before it has proved anything (issue 14's hostile run: 500
 * slow-header TLS connections and 500 that never started TLS were still open after 40 s; 2,000
 * concurrent handshakes starved /health):
 * - timeouts, as Node server options: the TLS handshake (from accept, so a connection that never
 *   sends a ClientHello is closed too), the request headers (also a connection that is silent
 *   after the handshake), the whole request, and idle keep-alive;
 * - caps, enforced on accept before any TLS work: open connections per source address, and TLS
 *   handshakes in progress over all addresses. A refused connection is closed at once.
 */
import type { Server, Socket } from 'node:net';
import type { ConnectionLimitsConfig } from '../../config/limits-config';

/** Node `http`/`https` server options for the timeouts of `limits`. */
export interface ConnectionTimeoutOptions {
  readonly handshakeTimeout: number;
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  /** How often Node checks the headers and request timeouts; a fraction of the shortest one. */
  readonly connectionsCheckingInterval: number;
}

export function connectionTimeoutOptions(limits: ConnectionLimitsConfig): ConnectionTimeoutOptions {
  const shortest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    handshakeTimeout: limits.handshakeTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    // Node requires requestTimeout ≥ headersTimeout.
    requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
    keepAliveTimeout: limits.idleTimeoutMs,
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(shortest / 4))),
  };
}

/**
 * Set the timeouts on a server that already exists (the admin listener, created by Nest). Node
 * reads `connectionsCheckingInterval` only at construction; the others apply at once.
 */
function applyConnectionTimeouts(
  server: { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number },
  limits: ConnectionLimitsConfig,
): void {
  const o = connectionTimeoutOptions(limits);
  server.headersTimeout = o.headersTimeout;
  server.requestTimeout = o.requestTimeout;
  server.keepAliveTimeout = o.keepAliveTimeout;
}

export type RefusedReason = 'per_address' | 'handshakes';

export interface ConnectionCaps {
  readonly perAddress: number;
  /** For a TLS server: handshakes in progress at once; undefined for plain HTTP. */
  readonly concurrentHandshakes?: number;
}

/** What `limitConnections` counts right now (tests, metrics). */
export interface ConnectionCounts {
  readonly open: number;
  readonly handshaking: number;
}

/**
 * Enforce `caps` on `server`'s accepted sockets, before its own connection handlers (TLS) see
 * them; call it after those are attached (Node's servers attach them when constructed) and
 * before `listen`. `onRefused` is told about every refused connection.
 */
export function limitConnections(
  server: Server,
  caps: ConnectionCaps,
  onRefused: (reason: RefusedReason, address: string) => void = () => undefined,
): () => ConnectionCounts {
  const byAddress = new Map<string, number>();
  const handshaking = new Set<string>();
  let open = 0;
  const admit = (socket: Socket): boolean => {
    const address = socket.remoteAddress ?? '?';
    const key = `${address} ${socket.remotePort ?? '?'}`;
    const count = byAddress.get(address) ?? 0;
    let refused: RefusedReason | undefined;
    if (count >= caps.perAddress) refused = 'per_address';
    else if (caps.concurrentHandshakes !== undefined && handshaking.size >= caps.concurrentHandshakes) {
      refused = 'handshakes';
    }
    if (refused !== undefined) {
      onRefused(refused, address);
      socket.destroy();
      return false;
    }
    byAddress.set(address, count + 1);
    open++;
    if (caps.concurrentHandshakes !== undefined) handshaking.add(key);
    socket.once('close', () => {
      open--;
      handshaking.delete(key);
      const left = (byAddress.get(address) ?? 1) - 1;
      if (left <= 0) byAddress.delete(address);
      else byAddress.set(address, left);
    });
    return true;
  };
  // The server's own handlers (the TLS wrapping) run only for admitted sockets: a refused one
  // costs an accept and a close, no TLS state.
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (!admit(socket)) return;
    for (const h of handlers) h.call(server, socket);
  });
  if (caps.concurrentHandshakes !== undefined) {
    server.on('secureConnection', (socket: Socket) => {
      handshaking.delete(`${socket.remoteAddress ?? '?'} ${socket.remotePort ?? '?'}`);
    });
  }
  return () => ({ open, handshaking: handshaking.size });
}

/**
 * `limits.connections` on a listener: the caps (counted in `mimi_connections_refused_total`) and,
 * for a server Nest created without our options (the admin listener), the timeouts.
 */
export function hardenListener(
  server: Server & { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number },
  limits: ConnectionLimitsConfig,
  listener: 'mimi' | 'admin',
  metrics: { counter(name: string, help: string): { inc(labels: Record<string, string>): void } },
): () => ConnectionCounts {
  const refused = metrics.counter('mimi_connections_refused_total', 'Connections closed on accept by a cap');
  if (listener === 'admin') applyConnectionTimeouts(server, limits);
  return limitConnections(
    server,
    {
      perAddress: limits.perAddress,
      ...(listener === 'mimi' ? { concurrentHandshakes: limits.concurrentHandshakes } : {}),
    },
    (reason) => refused.inc({ listener, reason }),
  );
}
