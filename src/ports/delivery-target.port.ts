import type { ProviderDomain } from '../common/ids';

export const DELIVERY_TARGET = Symbol('DELIVERY_TARGET');

/** The MIMI endpoints the outbox delivers to (protocol -06 §5). */
export type MimiEndpoint =
  | 'notify'
  | 'update'
  | 'submitMessage'
  | 'keyMaterial'
  | 'groupInfo'
  | 'identifierQuery'
  | 'requestConsent'
  | 'updateConsent'
  | 'reportAbuse'
  /** protocol-06 §5.10.2, a GET served by the hub; never an outbox delivery. */
  | 'proxyDownload';

/** One outbox row ready to send: the exact bytes, sent identically on every attempt. */
export interface OutboundDelivery {
  /** Outbox row id (for logs). */
  readonly id: string;
  readonly destination: ProviderDomain;
  readonly endpoint: MimiEndpoint;
  /** The room URI the stream belongs to (placed in the path per src/mimi/README.md). */
  readonly roomUri: string;
  /** The exact body bytes (TLS presentation language). */
  readonly body: Uint8Array;
  /** 1 on the first try. */
  readonly attempt: number;
  /** For `/notify`: where the request stands in its stream, sent as STREAM_ORDER_HEADERS (see there). */
  readonly streamOrder?: StreamOrder;
}

/**
 * The position of a `/notify` request in its (destination, room) stream, for a follower that
 * applies pipelined requests in stream order (gateway-to-gateway extension, not part of MIMI):
 * `last` is the stream seq of its last row; `after`, present only while the request sent before
 * it in the stream is still unanswered, is that request's `last`: the follower applies this one
 * only once it has applied that one, and answers 503 GW_OUT_OF_ORDER if it does not get there.
 */
export interface StreamOrder {
  readonly last: number;
  readonly after?: number;
}

/**
 * HTTP headers of the stream order extension. A follower that honours `after` says so with
 * `ordered: 1` on its 2xx answers; only to such a peer does the outbox send more than one request
 * of a stream at a time. A peer that does not know them ignores them (one request at a time).
 */
export const STREAM_ORDER_HEADERS = {
  last: 'mimi-gateway-stream-seq',
  after: 'mimi-gateway-stream-after',
  ordered: 'mimi-gateway-stream-ordered',
} as const;

/**
 * What happened to one delivery attempt.
 * - `delivered`: the peer acknowledged it (2xx); the row is done.
 * - `retry`: transient (network error, timeout, 5xx, 429, 408); retry later, no sooner than
 *   `retryAfterMs` when the peer said `Retry-After`. Also a 401, or a 403 other than
 *   MIMI_NOT_ALLOWED, from the peer (`peerAuthStatus`): the peer does not accept *us* (our
 *   certificate, its trust anchors or its directory), which an operator fixes; the rows wait
 *   with backoff and an alert instead of being parked (RELIABILITY T21).
 * - `permanent`: the peer rejected the body itself (other 4xx); retrying the same bytes is
 *   pointless, so the row is parked with the reason.
 */
export type DeliveryOutcome =
  | {
      readonly kind: 'delivered';
      readonly status: number;
      readonly responseBody?: Uint8Array;
      /** The peer applies `/notify` requests in stream order (STREAM_ORDER_HEADERS.ordered). */
      readonly streamOrdered?: boolean;
    }
  | {
      readonly kind: 'retry';
      readonly reason: string;
      readonly retryAfterMs?: number;
      /** Set when the peer refused to authenticate or authorise us (401/403). */
      readonly peerAuthStatus?: 401 | 403;
    }
  | { readonly kind: 'permanent'; readonly reason: string; readonly status?: number };

/** Sends outbox rows to peers. Implemented by the MIMI peer client (mutual TLS). */
export interface DeliveryTarget {
  /** Never throws: every failure is reported as an outcome. */
  deliver(delivery: OutboundDelivery, signal: AbortSignal): Promise<DeliveryOutcome>;
}
