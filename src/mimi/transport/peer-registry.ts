/**
 * Where and how to reach peer providers: their base URL (configured, or learnt from their
 * directory, protocol-06 §5.1), the trust anchors for their certificates, and one mutual-TLS
 * connection pool (undici Agent) per peer.
 *
 * Peers not listed in `peers` are reachable too (open federation at the transport level): they
 * are authenticated against `tls.caFiles` and found through their directory. Whether a peer may
 * take part in a room is decided above the transport.
 */
import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import type { PeerCertificate } from 'node:tls';
import { Agent, request } from 'undici';
import { ErrorCode, GatewayError, ValidationError, errorMessage } from '../../common/errors';
import { ProviderDomain, isProviderDomain } from '../../common/ids';
import { GatewayConfig } from '../../config/gateway-config';
import type { MimiEndpoint } from '../../ports/delivery-target.port';
import { readLimitedBody } from './http-body';
import { MimiDirectory, expandTemplate, parseDirectory } from './mimi-directory';
import { MIMI_DIRECTORY_PATH, endpointPathSegment } from './mimi-paths';
import { MIMI_TRANSPORT_OPTIONS, MimiTransportOptions } from './mimi-transport.options';
import { formatFromHeader, matchesDomain } from './tls-identity';
import { TransportTls, TrustAnchor } from './transport-tls';

/** A fetched directory is used this long before it is fetched again. */
export const DIRECTORY_TTL_MS = 60 * 60 * 1000;
/** After a failed directory fetch, wait this long before the next attempt (stale data is used meanwhile). */
export const DIRECTORY_RETRY_MS = 30 * 1000;
/** Largest directory document we read. */
const MAX_DIRECTORY_BYTES = 64 * 1024;
/** Idle keep-alive connections to a peer are closed after this long. */
const KEEP_ALIVE_MS = 30 * 1000;
/** Error code of a peer certificate that does not authenticate the peer domain (RFC 6125). */
export const PEER_IDENTITY_ERROR_CODE = 'ERR_MIMI_PEER_IDENTITY';

export interface PeerInfo {
  readonly domain: ProviderDomain;
  /** Configured base URL of its MIMI endpoints; undefined → use its directory. */
  readonly baseUrl?: string;
  /** Listed in `peers` (as opposed to reached through open federation). */
  readonly configured: boolean;
  readonly anchors: readonly TrustAnchor[];
}

interface CachedDirectory {
  readonly directory: MimiDirectory;
  readonly fetchedAt: number;
}

@Injectable()
export class PeerRegistry implements OnModuleDestroy {
  private readonly logger = new Logger(PeerRegistry.name);
  private readonly baseUrls = new Map<string, string | undefined>();
  private readonly agents = new Map<string, Agent>();
  private readonly directories = new Map<string, CachedDirectory>();
  private readonly failedAt = new Map<string, { at: number; error: GatewayError }>();
  private readonly inflight = new Map<string, Promise<MimiDirectory>>();
  private readonly now: () => number;

  constructor(
    private readonly config: GatewayConfig,
    private readonly tls: TransportTls,
    @Optional() @Inject(MIMI_TRANSPORT_OPTIONS) private readonly options: MimiTransportOptions = {},
  ) {
    for (const peer of config.peers) this.baseUrls.set(peer.domain.toLowerCase(), peer.baseUrl?.replace(/\/+$/, ''));
    this.now = options.now ?? Date.now;
  }

  /**
   * What we know about `domain`.
   * @throws ValidationError when `domain` is not a DNS name.
   */
  peer(domain: string): PeerInfo {
    const d = checkDomain(domain);
    return {
      domain: d,
      baseUrl: this.baseUrls.get(d),
      configured: this.baseUrls.has(d),
      anchors: this.tls.anchorsFor(d),
    };
  }

  /**
   * The connection pool for `domain`: presents our certificate, trusts only the peer's anchors, and
   * checks that the server certificate authenticates the peer domain (RFC 6125, dNSName SANs only),
   * whatever address we connect to (127.0.0.1 in tests). Keep-alive, one pool per origin.
   */
  agentFor(domain: string): Agent {
    const d = checkDomain(domain);
    let agent = this.agents.get(d);
    if (!agent) {
      agent = new Agent({
        connect: {
          key: this.tls.keyPem,
          cert: this.tls.certPem,
          ca: this.tls.anchorsFor(d).map((a) => a.pem),
          servername: d,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          checkServerIdentity: (_host: string, cert: PeerCertificate) => checkPeerIdentity(d, cert),
        },
        keepAliveTimeout: KEEP_ALIVE_MS,
        connections: this.config.outbox.concurrency,
      });
      this.agents.set(d, agent);
    }
    return agent;
  }

  /**
   * `Host` for a request to `domain` at `url` (protocol-06 §4.1: Host names the target provider). The
   * URL's explicit port is kept so that loopback deployments work; the peer ignores it.
   */
  hostHeader(domain: string, url: URL): string {
    return url.port ? `${domain}:${url.port}` : domain;
  }

  /**
   * The absolute URL of `endpoint` at `domain` for `pathUri` (the room URI; the target user URI for
   * keyMaterial), per src/mimi/README.md "Room ID in paths".
   * @throws ValidationError for a bad domain or URI (permanent);
   *         GatewayError PeerUnavailable/Timeout, retryable, when the directory cannot be had or
   *         lacks the endpoint; CodecError when the directory's template is unusable.
   */
  async resolveEndpoint(domain: string, endpoint: MimiEndpoint, pathUri: string, signal?: AbortSignal): Promise<URL> {
    const peer = this.peer(domain);
    if (peer.baseUrl !== undefined) {
      return new URL(`${peer.baseUrl}/${endpoint}/${endpointPathSegment(endpoint, pathUri)}`);
    }
    const directory = await this.directory(peer.domain, signal);
    const template = directory[endpoint];
    if (!template) {
      throw new GatewayError(ErrorCode.PeerUnavailable, `${peer.domain} does not list ${endpoint} in its directory`, {
        retryable: true,
      });
    }
    return expandTemplate(template, endpoint, pathUri);
  }

  /**
   * The peer's directory, fetched over mutual TLS and cached for DIRECTORY_TTL_MS. When a refetch
   * fails, the stale copy is used and the fetch is retried after DIRECTORY_RETRY_MS.
   * @throws GatewayError (retryable) when there is no usable copy.
   */
  async directory(domain: string, signal?: AbortSignal): Promise<MimiDirectory> {
    const d = checkDomain(domain);
    const cached = this.directories.get(d);
    const now = this.now();
    if (cached && now - cached.fetchedAt < (this.options.directoryTtlMs ?? DIRECTORY_TTL_MS)) return cached.directory;
    const failed = this.failedAt.get(d);
    if (failed && now - failed.at < (this.options.directoryRetryMs ?? DIRECTORY_RETRY_MS)) {
      if (cached) return cached.directory;
      throw failed.error;
    }
    let pending = this.inflight.get(d);
    if (!pending) {
      pending = this.fetchDirectory(d, signal).finally(() => this.inflight.delete(d));
      this.inflight.set(d, pending);
    }
    try {
      const directory = await pending;
      this.directories.set(d, { directory, fetchedAt: this.now() });
      this.failedAt.delete(d);
      return directory;
    } catch (e) {
      const error =
        e instanceof GatewayError
          ? e
          : new GatewayError(ErrorCode.PeerUnavailable, `directory of ${d}: ${errorMessage(e)}`, {
              retryable: true,
              cause: e,
            });
      this.failedAt.set(d, { at: this.now(), error });
      if (cached) {
        this.logger.warn(`directory of ${d} could not be refreshed, using the cached copy: ${error.message}`);
        return cached.directory;
      }
      throw error;
    }
  }

  /** Forget the cached directory of `domain` (e.g. after the peer moved its endpoints). */
  invalidate(domain: string): void {
    const d = checkDomain(domain);
    this.directories.delete(d);
    this.failedAt.delete(d);
  }

  async onModuleDestroy(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((a) => a.close()));
  }

  private async fetchDirectory(domain: ProviderDomain, signal?: AbortSignal): Promise<MimiDirectory> {
    const url = new URL(this.options.directoryUrlFor?.(domain) ?? `https://${domain}${MIMI_DIRECTORY_PATH}`);
    const timeoutMs = this.config.outbox.requestTimeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const what = `directory of ${domain} (${url.href})`;
    try {
      const res = await request(url, {
        method: 'GET',
        dispatcher: this.agentFor(domain),
        headers: {
          host: this.hostHeader(domain, url),
          from: formatFromHeader(this.config.provider.domain),
          accept: 'application/json',
        },
        signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new GatewayError(ErrorCode.PeerUnavailable, `${what}: HTTP ${res.statusCode}`, { retryable: true });
      }
      const text = (await readLimitedBody(res.body, MAX_DIRECTORY_BYTES, what)).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new GatewayError(ErrorCode.PeerUnavailable, `${what}: not JSON`, { retryable: true, cause: e });
      }
      const directory = parseDirectory(json);
      this.logger.log(`fetched the directory of ${domain}: ${Object.keys(directory).join(', ')}`);
      return directory;
    } catch (e) {
      if (e instanceof GatewayError) throw new GatewayError(e.code, e.message, { retryable: true, cause: e.cause });
      if (deadline.aborted) {
        throw new GatewayError(ErrorCode.Timeout, `${what}: no answer within ${timeoutMs} ms`, { retryable: true });
      }
      throw new GatewayError(ErrorCode.PeerUnavailable, `${what}: ${errorMessage(e)}`, { retryable: true, cause: e });
    }
  }
}

/**
 * Our `checkServerIdentity`: the certificate must authenticate the peer domain itself (the TLS
 * server name), by our RFC 6125 rules, not Node's (which fall back to the CN).
 */
function checkPeerIdentity(domain: string, cert: PeerCertificate): Error | undefined {
  if (matchesDomain(cert, domain)) return undefined;
  const err = new Error(`the server certificate does not authenticate ${domain}`) as Error & { code: string };
  err.code = PEER_IDENTITY_ERROR_CODE;
  return err;
}

function checkDomain(domain: string): ProviderDomain {
  const d = domain.toLowerCase();
  if (!isProviderDomain(d)) throw new ValidationError(`not a provider domain: ${JSON.stringify(domain)}`);
  return d;
}
