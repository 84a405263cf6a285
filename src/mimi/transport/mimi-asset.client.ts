/**
 * Fetches an attachment from a peer's asset endpoint (mimi-asset-paths.ts) over mutual TLS, with
 * the same peer directory, connection pools and identity checks as every MIMI request
 * (MimiPeerClient). The URL is built from our directory of the peer, never taken from a message;
 * as a hub's proxyDownload (protocol-06 §5.10.2) only a URL on a configured peer's own origin is
 * fetched.
 */
import { Injectable } from '@nestjs/common';
import { request } from 'undici';
import { ErrorCode, GatewayError, errorMessage } from '../../common/errors';
import { GatewayConfig } from '../../config/gateway-config';
import { readLimitedBody } from './http-body';
import { type AssetRef, assetPath } from './mimi-asset-paths';
import { PeerRegistry } from './peer-registry';
import { formatFromHeader } from './tls-identity';

/** The bytes of a fetched attachment, as the peer served them. */
export interface FetchedAsset {
  readonly bytes: Uint8Array;
  readonly contentType: string;
}

/** How much and how long one fetch may take. */
export interface FetchLimits {
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/** The error codes a peer's refusal is mapped back to (by HTTP status). */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
};

@Injectable()
export class MimiAssetClient {
  constructor(
    private readonly config: GatewayConfig,
    private readonly registry: PeerRegistry,
  ) {}

  /**
   * GET `ref` from the provider `domain` (the room's hub, or the minter when we are the hub).
   * @throws GatewayError: the peer's refusal (Forbidden, NotFound, PayloadTooLarge,
   *         UnsupportedMediaType, with its message), PayloadTooLarge when the bytes exceed
   *         `maxBytes`, PeerUnavailable / Timeout when no answer was had.
   */
  async fetch(domain: string, ref: AssetRef, opts: FetchLimits): Promise<FetchedAsset> {
    const signal = AbortSignal.timeout(opts.timeoutMs);
    const base = await this.baseUrl(domain, ref.roomUri, signal);
    return this.get(domain, new URL(`${base}/${assetPath(ref)}`), opts, signal);
  }

  /**
   * protocol-06 §5.10.2: `downloadUrl` through the hub `hub`'s `proxyDownload` endpoint (found in
   * its directory). We never fetch `downloadUrl` ourselves; the hub checks that it names one of
   * its peers' asset servers.
   * @throws GatewayError as `fetch`
   */
  async viaHubProxy(hub: string, downloadUrl: string, opts: FetchLimits): Promise<FetchedAsset> {
    const signal = AbortSignal.timeout(opts.timeoutMs);
    const url = await this.registry.resolveEndpoint(hub, 'proxyDownload', downloadUrl, signal);
    return this.get(hub, url, opts, signal);
  }

  /**
   * The configured peer whose asset server `url` is on: same origin as its `baseUrl`, or
   * `https://<domain>` when none is configured. Undefined for any other origin.
   */
  peerServing(url: URL): string | undefined {
    for (const peer of this.config.peers) {
      const base = new URL(peer.baseUrl ?? `https://${peer.domain}`);
      if (base.origin === url.origin) return peer.domain.toLowerCase();
    }
    return undefined;
  }

  /**
   * GET `url` on the asset server of the peer `domain` (peerServing), for a proxyDownload.
   * @throws GatewayError as `fetch`
   */
  async fetchFromPeer(domain: string, url: URL, opts: FetchLimits): Promise<FetchedAsset> {
    return this.get(domain, url, opts, AbortSignal.timeout(opts.timeoutMs));
  }

  private async get(domain: string, url: URL, opts: FetchLimits, signal: AbortSignal): Promise<FetchedAsset> {
    const peer = this.registry.peer(domain).domain;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        method: 'GET',
        dispatcher: this.registry.agentFor(peer),
        headers: { host: this.registry.hostHeader(peer, url), from: formatFromHeader(this.config.provider.domain) },
        signal,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
    } catch (e) {
      const code = signal.aborted ? ErrorCode.Timeout : ErrorCode.PeerUnavailable;
      throw new GatewayError(code, `asset from ${peer}: ${errorMessage(e)}`, { retryable: true, cause: e });
    }
    if (res.statusCode !== 200) {
      const text = (await readLimitedBody(res.body, 4096, `error of ${peer}`).catch(() => Buffer.alloc(0))).toString();
      throw new GatewayError(
        CODE_BY_STATUS[res.statusCode] ?? ErrorCode.PeerUnavailable,
        `${peer} answered ${res.statusCode}${peerMessage(text)}`,
        { retryable: res.statusCode >= 500 },
      );
    }
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > opts.maxBytes) {
      res.body.destroy();
      throw new GatewayError(ErrorCode.PayloadTooLarge, `${declared} bytes, over the limit of ${opts.maxBytes}`);
    }
    const bytes = await readLimitedBody(res.body, opts.maxBytes, `asset from ${peer}`).catch((e: unknown) => {
      if (e instanceof GatewayError && e.code === ErrorCode.Malformed) {
        throw new GatewayError(ErrorCode.PayloadTooLarge, `over the limit of ${opts.maxBytes} bytes`);
      }
      throw e;
    });
    const type = res.headers['content-type'];
    return { bytes: new Uint8Array(bytes), contentType: typeof type === 'string' ? type : 'application/octet-stream' };
  }

  /** The base of `domain`'s MIMI endpoints: configured, or its directory's notify URL less `/notify/<room>`. */
  private async baseUrl(domain: string, roomUri: string, signal: AbortSignal): Promise<string> {
    const peer = this.registry.peer(domain);
    if (peer.baseUrl !== undefined) return peer.baseUrl;
    const notify = await this.registry.resolveEndpoint(domain, 'notify', roomUri, signal);
    const at = notify.href.lastIndexOf('/notify/');
    if (at < 0) {
      throw new GatewayError(ErrorCode.PeerUnavailable, `cannot tell the base URL of ${domain} from its directory`, {
        retryable: true,
      });
    }
    return notify.href.slice(0, at);
  }
}

function peerMessage(text: string): string {
  try {
    const json = JSON.parse(text) as { errcode?: unknown; error?: unknown };
    return typeof json.error === 'string' ? `: ${json.error.slice(0, 200)}` : '';
  } catch {
    return '';
  }
}
