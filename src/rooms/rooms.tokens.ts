import type { MimiEndpoint } from '../ports';

/**
 * Synchronous MIMI requests to a peer provider (/keyMaterial, /submitMessage, /update): the
 * composition root binds it to the transport's `MimiPeerClient`, whose `request` has this shape.
 */
export const MIMI_REQUESTER = Symbol('MIMI_REQUESTER');

export interface MimiRequester {
  /**
   * POST `body` to `endpoint` of `domain` for `pathUri` and return the answer, whatever its status.
   * @throws GatewayError (retryable) when no answer was had.
   */
  request(
    domain: string,
    endpoint: MimiEndpoint,
    pathUri: string,
    body: Uint8Array,
    opts?: { timeoutMs?: number },
  ): Promise<{ readonly status: number; readonly body: Uint8Array }>;
}

export const ROOMS_OPTIONS = Symbol('ROOMS_OPTIONS');

/** Tunables of the rooms core (all optional). */
export interface RoomsOptions {
  /** How long /submitMessage waits for the platform to accept a post (ms). Default 10 000. */
  readonly submitPostTimeoutMs?: number;
  /** Timeout of one render post on a follower (ms). Default 15 000. */
  readonly renderTimeoutMs?: number;
  /** Delay before a follower retries rendering after a retryable platform failure (ms). Default 2 000. */
  readonly renderRetryMs?: number;
  /** Delay before a follower retries a submission the hub could not be reached for (ms). Default 2 000. */
  readonly submitRetryMs?: number;
}

export const DEFAULT_SUBMIT_POST_TIMEOUT_MS = 10_000;
export const DEFAULT_RENDER_TIMEOUT_MS = 15_000;
export const DEFAULT_RENDER_RETRY_MS = 2_000;
export const DEFAULT_SUBMIT_RETRY_MS = 2_000;
