/**
 * Sends MIMI requests to peer providers over mutual TLS (protocol-06 §4.1) and, as the outbox's
 * DeliveryTarget, classifies each attempt as delivered / retry / permanent.
 *
 * Every request carries `Host: <peer domain>` (plus the URL's port, which the peer ignores),
 * `From: mimi@<our domain>`, `Content-Type: application/octet-stream` (the draft names none,
 * MIMI-NOTES §1.2) and the exact body bytes.
 *
 * A peer whose server certificate we do not accept (wrong domain, unknown CA, expired) is a
 * retry, never a delivery: nothing reached the peer, and the usual cause (a certificate being
 * renewed, a trust anchor not yet installed) is fixed by an operator, after which the backlog
 * drains in order by itself. Parking the rows instead would need a manual re-drive. Each such
 * failure is logged at warn.
 */
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';
import { ErrorCode, GatewayError, errorMessage } from '../../common/errors';
import { GatewayConfig } from '../../config/gateway-config';
import {
  type DeliveryOutcome,
  type DeliveryTarget,
  type MimiEndpoint,
  type OutboundDelivery,
  type StreamOrder,
  STREAM_ORDER_HEADERS,
} from '../../ports/delivery-target.port';
import { readLimitedBody } from './http-body';
import { MIMI_TRANSPORT_OPTIONS, MimiTransportOptions } from './mimi-transport.options';
import { PEER_IDENTITY_ERROR_CODE, PeerRegistry } from './peer-registry';
import { MIMI_CONTENT_TYPE } from './raw-body.middleware';
import { parseRetryAfter } from '../../common/retry-after';
import { formatFromHeader } from './tls-identity';

/** Largest response body we read (GroupInfo with a ratchet tree is the big one). */
const MAX_MIMI_RESPONSE_BYTES = 8 * 1024 * 1024;
/** How much of a peer's error body goes into a reason string. */
const MAX_REASON_DETAIL = 200;

/** A peer's answer to a MIMI request. */
export interface MimiResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Uint8Array;
}

export interface MimiRequestOptions {
  /** Aborts the request (the outbox passes its shutdown signal). */
  readonly signal?: AbortSignal;
  /** Default `outbox.requestTimeoutMs`; covers directory lookup, connection and the whole response. */
  readonly timeoutMs?: number;
  /** `/notify`: the request's place in its stream (STREAM_ORDER_HEADERS). */
  readonly streamOrder?: StreamOrder;
}

@Injectable()
export class MimiPeerClient implements DeliveryTarget {
  private readonly logger = new Logger(MimiPeerClient.name);
  private readonly now: () => number;

  constructor(
    private readonly config: GatewayConfig,
    private readonly registry: PeerRegistry,
    @Optional() @Inject(MIMI_TRANSPORT_OPTIONS) options: MimiTransportOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Send one outbox row: 2xx → delivered; 408, 429, 5xx, network errors, timeouts and TLS
   * failures → retry (with the peer's Retry-After); 401, and 403 unless its errcode is
   * MIMI_NOT_ALLOWED (a refusal of the content itself) → retry marked `peerAuthStatus` (the peer
   * does not accept our certificate or its directory disagrees: an operator's fix, not a bad
   * row); any other status → permanent with the status and the peer's errcode. Never throws.
   */
  async deliver(delivery: OutboundDelivery, signal: AbortSignal): Promise<DeliveryOutcome> {
    const ids = `delivery=${delivery.id} dest=${delivery.destination} endpoint=${delivery.endpoint} attempt=${delivery.attempt}`;
    let outcome: DeliveryOutcome;
    try {
      const res = await this.request(delivery.destination, delivery.endpoint, delivery.roomUri, delivery.body, {
        signal,
        ...(delivery.streamOrder === undefined ? {} : { streamOrder: delivery.streamOrder }),
      });
      outcome = classifyResponse(res, this.now());
    } catch (e) {
      outcome = classifyFailure(e);
    }
    if (outcome.kind === 'delivered') this.logger.debug(`${ids}: delivered (HTTP ${outcome.status})`);
    else this.logger.debug(`${ids}: ${outcome.kind}: ${outcome.reason}`);
    return outcome;
  }

  /**
   * POST `body` to `endpoint` at `domain` for `pathUri` (the room URI; the target user URI for
   * keyMaterial) and return whatever the peer answered, for the synchronous endpoints
   * (submitMessage, update, keyMaterial, groupInfo).
   * @throws ValidationError when the domain or URI is malformed (not retryable);
   *         GatewayError Timeout or PeerUnavailable (retryable) when no answer was had: network
   *         error, TLS failure, timeout, abort, unusable directory; Malformed when the answer is
   *         larger than MAX_MIMI_RESPONSE_BYTES.
   */
  async request(
    domain: string,
    endpoint: MimiEndpoint,
    pathUri: string,
    body: Uint8Array,
    opts: MimiRequestOptions = {},
  ): Promise<MimiResponse> {
    const timeoutMs = opts.timeoutMs ?? this.config.outbox.requestTimeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
    const url = await this.registry.resolveEndpoint(domain, endpoint, pathUri, signal);
    const peer = this.registry.peer(domain).domain;
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: this.registry.agentFor(peer),
        headers: {
          host: this.registry.hostHeader(peer, url),
          from: formatFromHeader(this.config.provider.domain),
          'content-type': MIMI_CONTENT_TYPE,
          ...streamOrderHeaders(opts.streamOrder),
        },
        body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const responseBody = await readLimitedBody(res.body, MAX_MIMI_RESPONSE_BYTES, `response of ${peer}`);
      return { status: res.statusCode, headers: res.headers, body: responseBody };
    } catch (e) {
      if (e instanceof GatewayError) throw e;
      if (deadline.aborted) {
        throw new GatewayError(ErrorCode.Timeout, `no answer from ${peer} within ${timeoutMs} ms`, {
          retryable: true,
          cause: e,
        });
      }
      if (opts.signal?.aborted) {
        throw new GatewayError(ErrorCode.PeerUnavailable, `request to ${peer} aborted`, { retryable: true, cause: e });
      }
      if (isTlsVerificationError(e)) {
        const message = `TLS: ${peer} presented a certificate we do not accept (${describe(e)})`;
        this.logger.warn(`${endpoint} ${url.href}: ${message}`);
        throw new GatewayError(ErrorCode.PeerUnavailable, message, { retryable: true, cause: e });
      }
      throw new GatewayError(ErrorCode.PeerUnavailable, `${peer} unreachable (${describe(e)})`, {
        retryable: true,
        cause: e,
      });
    }
  }
}

function streamOrderHeaders(order: StreamOrder | undefined): Record<string, string> {
  if (order === undefined) return {};
  const headers: Record<string, string> = { [STREAM_ORDER_HEADERS.last]: String(order.last) };
  if (order.after !== undefined) headers[STREAM_ORDER_HEADERS.after] = String(order.after);
  return headers;
}

/** Map a peer's answer to an outcome (pure). */
function classifyResponse(res: MimiResponse, nowMs: number): DeliveryOutcome {
  const { status } = res;
  if (status >= 200 && status < 300) {
    const ordered = res.headers[STREAM_ORDER_HEADERS.ordered] === '1' ? { streamOrdered: true } : {};
    return res.body.length > 0
      ? { kind: 'delivered', status, responseBody: res.body, ...ordered }
      : { kind: 'delivered', status, ...ordered };
  }
  const reason = `HTTP ${status}${peerErrorDetail(res.body)}`;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], nowMs);
    return retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs };
  }
  if (status === 401 || (status === 403 && peerErrcode(res.body) !== ErrorCode.NotAllowed)) {
    return { kind: 'retry', reason, peerAuthStatus: status };
  }
  return { kind: 'permanent', reason, status };
}

/** Map a failure to get an answer to an outcome (pure): retryable errors retry, the rest is permanent. */
function classifyFailure(e: unknown): DeliveryOutcome {
  if (e instanceof GatewayError) {
    return e.retryable ? { kind: 'retry', reason: e.message } : { kind: 'permanent', reason: e.message };
  }
  // Not one of ours: a bug more likely than a bad row, so keep the row and try again.
  return { kind: 'retry', reason: `unexpected error: ${errorMessage(e)}` };
}

/** The `{ errcode, error }` of a JSON error body, if it is one. */
function peerErrorJson(text: string): { errcode: string; error?: unknown } | undefined {
  try {
    const json = JSON.parse(text) as { errcode?: unknown; error?: unknown } | null;
    return typeof json?.errcode === 'string' ? { errcode: json.errcode, error: json.error } : undefined;
  } catch {
    return undefined;
  }
}

function bodyText(body: Uint8Array): string {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

function peerErrcode(body: Uint8Array): string | undefined {
  return body.length === 0 ? undefined : peerErrorJson(bodyText(body))?.errcode;
}

/** ` MIMI_X: message` from a `{ errcode, error }` body, or a short excerpt of a text body. */
function peerErrorDetail(body: Uint8Array): string {
  if (body.length === 0) return '';
  const text = bodyText(body);
  const json = peerErrorJson(text);
  if (json) {
    const msg = typeof json.error === 'string' ? `: ${json.error.slice(0, MAX_REASON_DETAIL)}` : '';
    return ` ${json.errcode}${msg}`;
  }
  const printable = text
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim()
    .slice(0, MAX_REASON_DETAIL);
  return printable ? `: ${printable}` : '';
}

const TLS_ERROR_CODE = /^(ERR_TLS_|ERR_SSL_)|CERT|SIGNATURE|^INVALID_CA$|^INVALID_PURPOSE$|^HOSTNAME_MISMATCH$/;

function isTlsVerificationError(e: unknown): boolean {
  const code = errorCode(e) ?? errorCode((e as { cause?: unknown })?.cause);
  return code === PEER_IDENTITY_ERROR_CODE || (code !== undefined && TLS_ERROR_CODE.test(code));
}

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describe(e: unknown): string {
  const code = errorCode(e);
  return code ? `${code}: ${errorMessage(e)}` : errorMessage(e);
}
