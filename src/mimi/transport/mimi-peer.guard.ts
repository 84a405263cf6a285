/**
 * Authenticates the peer provider of every MIMI request except the directory (protocol-06 §4.1):
 * the TLS client certificate must chain to the trust anchors for the domain the `From` header
 * names and must authenticate that domain per RFC 6125, and `Host` must name us.
 *
 * The listener requests a certificate without enforcing it in the handshake (see
 * buildHttpsOptions), so failures become clean HTTP errors:
 * - no certificate, or one not chaining to the anchors → 401 MIMI_UNAUTHENTICATED;
 * - `From` missing/malformed, naming a domain the certificate does not authenticate, or a `Host`
 *   that is not our provider domain → 403 MIMI_FORBIDDEN.
 */
import { CanActivate, ExecutionContext, Injectable, Logger, createParamDecorator } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { PeerCertificate, TLSSocket } from 'node:tls';
import { ErrorCode, GatewayError } from '../../common/errors';
import { ProviderDomain } from '../../common/ids';
import { GatewayConfig } from '../../config/gateway-config';
import {
  CertificateIdentity,
  certificateIdentity,
  matchesDomain,
  parseFromHeader,
  parseHostHeader,
} from './tls-identity';
import { TransportTls, TrustAnchor, chainReachesAnchor } from './transport-tls';

/** Where the guard leaves the authenticated peer on the request. */
export const MIMI_PEER_KEY = 'mimiPeer';

/** The authenticated peer provider of a request. */
export interface MimiPeerIdentity {
  readonly domain: ProviderDomain;
}

/** The parts of a request the check needs (an Express request satisfies it). */
interface PeerRequest {
  readonly socket: unknown;
  readonly headers: IncomingHttpHeaders;
  /** Node ≥ 18.3: every value of every header, to refuse repeated From/Host. */
  readonly headersDistinct?: Record<string, string[]>;
}

interface PeerCheckContext {
  /** Our provider domain (`provider.domain`), which `Host` must name. */
  readonly ourDomain: string;
  readonly anchorsFor: (domain: string) => readonly TrustAnchor[];
  readonly now?: Date;
}

/**
 * What a connection's client certificate proved, computed once per TLS connection (keyed by the
 * socket and the leaf's fingerprint, in case a TLS 1.2 renegotiation changed it): parsing the
 * SANs and verifying the chain cost far more than the rest of a MIMI request, and a peer keeps
 * its connection alive for many requests. The handshake already checked validity dates.
 */
interface ConnectionVerdicts {
  readonly fingerprint: string;
  readonly identity: CertificateIdentity;
  /** Per claimed domain: does the chain reach the anchors configured for it? */
  readonly chainReachesAnchorsOf: Map<string, boolean>;
}

const verdictsBySocket = new WeakMap<TLSSocket, ConnectionVerdicts>();

function verdictsFor(socket: TLSSocket, fingerprint: string, leaf: PeerCertificate): ConnectionVerdicts {
  const known = verdictsBySocket.get(socket);
  if (known?.fingerprint === fingerprint) return known;
  const fresh = { fingerprint, identity: certificateIdentity(leaf), chainReachesAnchorsOf: new Map<string, boolean>() };
  verdictsBySocket.set(socket, fresh);
  return fresh;
}

/**
 * The whole check as a function (the guard is a thin wrapper).
 * @returns the authenticated peer domain
 * @throws GatewayError Unauthenticated (401) or Forbidden (403) with the reason
 */
function authenticatePeerRequest(req: PeerRequest, ctx: PeerCheckContext): ProviderDomain {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) {
    throw new GatewayError(ErrorCode.Unauthenticated, 'MIMI requests must use mutually authenticated TLS');
  }
  const leaf = socket.getPeerCertificate(false);
  if (!leaf?.raw) {
    throw new GatewayError(ErrorCode.Unauthenticated, 'no client certificate was presented');
  }
  if (!socket.authorized) {
    const why = socket.authorizationError ? ` (${String(socket.authorizationError)})` : '';
    throw new GatewayError(ErrorCode.Unauthenticated, `the client certificate is not trusted${why}`);
  }
  const from = parseFromHeader(req.headersDistinct?.from ?? req.headers.from);
  if (!from) {
    throw new GatewayError(ErrorCode.Forbidden, 'a single From header of the form mimi@<provider domain> is required');
  }
  const verdicts = verdictsFor(socket, leaf.fingerprint256, leaf);
  if (!matchesDomain(verdicts.identity, from)) {
    throw new GatewayError(ErrorCode.Forbidden, `the client certificate does not authenticate ${from}`);
  }
  let chainOk = verdicts.chainReachesAnchorsOf.get(from);
  if (chainOk === undefined) {
    chainOk = chainReachesAnchor(socket.getPeerCertificate(true), ctx.anchorsFor(from), ctx.now);
    verdicts.chainReachesAnchorsOf.set(from, chainOk);
  }
  if (!chainOk) {
    throw new GatewayError(
      ErrorCode.Unauthenticated,
      `the client certificate does not chain to the trust anchors configured for ${from}`,
    );
  }
  const host = parseHostHeader(req.headersDistinct?.host ?? req.headers.host);
  if (host !== ctx.ourDomain.toLowerCase()) {
    throw new GatewayError(ErrorCode.Forbidden, `Host must name this provider (${ctx.ourDomain})`);
  }
  return from;
}

@Injectable()
export class MimiPeerGuard implements CanActivate {
  private readonly logger = new Logger(MimiPeerGuard.name);

  constructor(
    private readonly config: GatewayConfig,
    private readonly tls: TransportTls,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<PeerRequest & { [MIMI_PEER_KEY]?: MimiPeerIdentity }>();
    try {
      const domain = authenticatePeerRequest(req, {
        ourDomain: this.config.provider.domain,
        anchorsFor: (d) => this.tls.anchorsFor(d),
      });
      req[MIMI_PEER_KEY] = { domain };
      return true;
    } catch (e) {
      if (e instanceof GatewayError) {
        const remote = req.socket instanceof TLSSocket ? req.socket.remoteAddress : undefined;
        this.logger.debug(`peer rejected (remote=${remote ?? '?'}, from=${String(req.headers.from)}): ${e.message}`);
      }
      throw e;
    }
  }
}

/**
 * The peer domain MimiPeerGuard authenticated: `handle(@MimiPeer() peer: ProviderDomain)`.
 * Using it on a route without the guard is a programming error (500).
 */
export const MimiPeer = createParamDecorator((_data: unknown, ctx: ExecutionContext): ProviderDomain => {
  const req = ctx.switchToHttp().getRequest<{ [MIMI_PEER_KEY]?: MimiPeerIdentity }>();
  const peer = req[MIMI_PEER_KEY];
  if (!peer) throw new GatewayError(ErrorCode.Internal, '@MimiPeer() used on a route without MimiPeerGuard');
  return peer.domain;
});
