/**
 * The TLS material of the MIMI transport, loaded once from the config: our certificate and key
 * (server and client alike), the default trust anchors (`tls.caFiles`) and per-peer anchors
 * (`peers[].caFiles`). Also builds the Node https server options for the MIMI listener.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import type { DetailedPeerCertificate } from 'node:tls';
import { ConfigError } from '../../common/errors';
import { GatewayConfig } from '../../config/gateway-config';
import { resolveConfigPath } from '../../config/load-config';
import { connectionTimeoutOptions } from './connection-limits';

/** What buildHttpsOptions returns: assignable to Node's https.ServerOptions and to Nest's `httpsOptions`. */
export type MimiHttpsOptions = Pick<
  ServerOptions,
  | 'key'
  | 'cert'
  | 'ca'
  | 'requestCert'
  | 'rejectUnauthorized'
  | 'minVersion'
  | 'handshakeTimeout'
  | 'headersTimeout'
  | 'requestTimeout'
  | 'keepAliveTimeout'
  | 'connectionsCheckingInterval'
>;

/** A CA certificate trusted to vouch for provider domains. */
export interface TrustAnchor {
  readonly pem: string;
  readonly cert: X509Certificate;
}

/** Longest chain we walk; real chains are 2 to 4 certificates long. */
const MAX_CHAIN_DEPTH = 10;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** TransportTls by the config it was read for (see fromConfig). */
const LOADED = new WeakMap<GatewayConfig, TransportTls>();

export class TransportTls {
  constructor(
    /** Our private key (PEM). */
    readonly keyPem: string,
    /** Our certificate chain (PEM), naming `provider.domain`. */
    readonly certPem: string,
    /** Anchors for every peer that does not name its own (`tls.caFiles`). */
    readonly defaultAnchors: readonly TrustAnchor[],
    /** Anchors of peers configured with `caFiles`, by lower-case domain. */
    private readonly peerAnchors: ReadonlyMap<string, readonly TrustAnchor[]> = new Map(),
  ) {}

  /**
   * Read every file the TLS section and the peers name (relative paths resolve against the config
   * file's directory), once per loaded config: start-up asks twice (the listener's httpsOptions in
   * main.ts, the transport module's provider) and both get the same instance.
   * @throws ConfigError naming the key path of a file that is missing, unreadable or holds no PEM.
   */
  static fromConfig(config: GatewayConfig): TransportTls {
    let tls = LOADED.get(config);
    if (tls === undefined) {
      tls = TransportTls.read(config);
      LOADED.set(config, tls);
    }
    return tls;
  }

  private static read(config: GatewayConfig): TransportTls {
    const keyPem = readPem(config, config.tls.keyFile, 'tls.keyFile', /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    const certPem = readPem(config, config.tls.certFile, 'tls.certFile', PEM_CERTIFICATE);
    const defaultAnchors = config.tls.caFiles.flatMap((f, i) => readAnchors(config, f, `tls.caFiles[${i}]`));
    const peerAnchors = new Map<string, readonly TrustAnchor[]>();
    config.peers.forEach((peer, p) => {
      if (peer.caFiles === undefined) return;
      const anchors = peer.caFiles.flatMap((f, i) => readAnchors(config, f, `peers[${p}].caFiles[${i}]`));
      peerAnchors.set(peer.domain.toLowerCase(), anchors);
    });
    return new TransportTls(keyPem, certPem, defaultAnchors, peerAnchors);
  }

  /** The anchors that may vouch for `domain`: the peer's own when configured, else the defaults. */
  anchorsFor(domain: string): readonly TrustAnchor[] {
    return this.peerAnchors.get(domain.toLowerCase()) ?? this.defaultAnchors;
  }

  /**
   * Every anchor of every peer, without duplicates: what the listener hands OpenSSL, which does not
   * know yet which peer is connecting. The per-peer restriction is applied after the handshake.
   */
  allAnchorPems(): string[] {
    const byFingerprint = new Map<string, string>();
    for (const a of [...this.defaultAnchors, ...[...this.peerAnchors.values()].flat()]) {
      byFingerprint.set(a.cert.fingerprint256, a.pem);
    }
    return [...byFingerprint.values()];
  }
}

/**
 * Node https server options for the MIMI listener. The client certificate is requested but not
 * enforced during the handshake (`rejectUnauthorized: false`), so that MimiPeerGuard can answer a
 * missing or untrusted certificate with a clear 401 instead of a failed handshake; `ca` is the
 * union of all trust anchors. The handshake, header, request and idle timeouts are
 * `limits.connections`' (connection-limits.ts).
 */
export function buildHttpsOptions(
  config: GatewayConfig,
  tls: TransportTls = TransportTls.fromConfig(config),
): MimiHttpsOptions {
  return {
    key: tls.keyPem,
    cert: tls.certPem,
    ca: tls.allAnchorPems(),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    ...connectionTimeoutOptions(config.limits.connections),
  };
}

/** The certificates of a PEM bundle, in order. */
function splitPemCertificates(text: string): string[] {
  return text.match(PEM_CERTIFICATE) ?? [];
}

/**
 * Whether the chain the peer presented (as returned by `getPeerCertificate(true)`) passes through
 * one of `anchors`: some certificate in it is an anchor, or was issued and signed by an anchor that
 * is a CA valid at `now`. OpenSSL has already verified the chain against the union of all anchors
 * (`socket.authorized`); this narrows the accepted anchors to those configured for one peer.
 */
export function chainReachesAnchor(
  peer: DetailedPeerCertificate,
  anchors: readonly TrustAnchor[],
  now: Date = new Date(),
): boolean {
  const chain: X509Certificate[] = [];
  let current: DetailedPeerCertificate | undefined = peer;
  while (current?.raw && chain.length < MAX_CHAIN_DEPTH) {
    chain.push(new X509Certificate(current.raw));
    // The root's issuerCertificate is the root itself.
    if (current.issuerCertificate === current) break;
    current = current.issuerCertificate;
  }
  return chain.some((cert) =>
    anchors.some(
      (anchor) =>
        anchor.cert.fingerprint256 === cert.fingerprint256 ||
        (anchor.cert.ca &&
          isValidAt(anchor.cert, now) &&
          cert.checkIssued(anchor.cert) &&
          cert.verify(anchor.cert.publicKey)),
    ),
  );
}

function isValidAt(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);
}

function readPem(config: GatewayConfig, file: string, keyPath: string, expect: RegExp): string {
  const path = resolveConfigPath(config, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError([{ keyPath, expected: `a readable PEM file (${path})` }], { cause: e });
  }
  expect.lastIndex = 0;
  if (!expect.test(text)) throw new ConfigError([{ keyPath, expected: `a PEM file (${path} holds none)` }]);
  return text;
}

function readAnchors(config: GatewayConfig, file: string, keyPath: string): TrustAnchor[] {
  const text = readPem(config, file, keyPath, PEM_CERTIFICATE);
  return splitPemCertificates(text).map((pem) => {
    try {
      return { pem, cert: new X509Certificate(pem) };
    } catch (e) {
      throw new ConfigError([{ keyPath, expected: `PEM CA certificates (${resolveConfigPath(config, file)})` }], {
        cause: e,
      });
    }
  });
}
