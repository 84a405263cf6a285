/**
 * Homeserver rate limits (RELIABILITY T12): a 429 `M_LIMIT_EXCEEDED` says how long to wait, in the
 * `Retry-After` header (seconds or an HTTP date) or the older `retry_after_ms` body field; the
 * bot SDK's MatrixError already parses both into `retryAfterMs`. The bridge waits that long and
 * sends the same request again (every send carries a transaction ID, so a resend is idempotent)
 * while the caller's deadline allows; past it, the error carries `retryAfterMs` so the caller's
 * own retry is not sooner either.
 */
import { parseRetryAfter } from '../../src/common/retry-after';

/** A 429 without a hint waits this long first, doubling per attempt. */
const DEFAULT_FIRST_WAIT_MS = 1_000;
/** A hint longer than this is not waited out in place, whatever the deadline. */
const MAX_IN_PLACE_WAIT_MS = 60_000;

interface RateLimitedError {
  statusCode?: unknown;
  retryAfterMs?: unknown;
  body?: { retry_after_ms?: unknown };
  headers?: Record<string, unknown>;
}

/** How long a homeserver error asks us to wait: undefined when it is not a 429. */
export function rateLimitWaitMs(e: unknown): number | undefined {
  const x = e as RateLimitedError | undefined;
  if (x?.statusCode !== 429) return undefined;
  const hinted = [x.retryAfterMs, x.body?.retry_after_ms, retryAfterHeaderMs(x.headers?.['retry-after'])].find(
    (v): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  );
  return hinted === undefined ? 0 : Math.ceil(hinted);
}

function retryAfterHeaderMs(value: unknown): number | undefined {
  return typeof value === 'string' ? parseRetryAfter(value, Date.now()) : undefined;
}

export interface RateLimitRetryOptions {
  /** Waits (tests replace it). */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** Told before each wait: how long, and the 429 (a log line: the operator sees the homeserver throttling). */
  readonly onWait?: (waitMs: number, error: unknown) => void;
}

/**
 * Run `fn`; while it fails with a 429 whose wait ends before `deadline` (ms since the epoch), wait
 * at least the homeserver's hint (or 1 s, 2 s, … without one) and run it again. Any other error,
 * or a 429 whose wait would pass the deadline, is thrown as it is.
 */
export async function retryRateLimited<T>(
  fn: () => Promise<T>,
  deadline: number,
  opts: RateLimitRetryOptions = {},
): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()));
  const now = opts.now ?? Date.now;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await fn();
    } catch (e) {
      const hinted = rateLimitWaitMs(e);
      if (hinted === undefined) throw e;
      const wait = hinted > 0 ? hinted : DEFAULT_FIRST_WAIT_MS * 2 ** Math.min(attempt, 6);
      if (wait > MAX_IN_PLACE_WAIT_MS || now() + wait >= deadline) throw e;
      opts.onWait?.(wait, e);
      await sleep(wait);
    }
  }
}
