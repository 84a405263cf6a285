/**
 * When to try a failed delivery again: exponential backoff with "full jitter" (the delay is
 * drawn uniformly from [0, ceiling], the ceiling doubling per attempt from `initialBackoffMs` up
 * to `maxBackoffMs`), and never sooner than the peer's Retry-After. Full jitter spreads the
 * retries of many streams that failed together (one peer going down) instead of having them
 * all return at the same instants. Pure: the random source is a parameter.
 */
export interface BackoffSettings {
  /** Ceiling of the first retry's delay. */
  readonly initialBackoffMs: number;
  /** Largest ceiling; reached after log2(max / initial) failures. */
  readonly maxBackoffMs: number;
}

/** 2^52 is the largest power of two whose product with a delay stays exact enough; past it the cap applies anyway. */
const MAX_DOUBLINGS = 52;

/**
 * Upper bound of the delay after the `failures`-th failed attempt of a row (1 = the first
 * attempt failed): initial × 2^(failures − 1), capped at max.
 */
export function backoffCeilingMs(failures: number, settings: BackoffSettings): number {
  const doublings = Math.min(Math.max(failures - 1, 0), MAX_DOUBLINGS);
  return Math.min(settings.maxBackoffMs, settings.initialBackoffMs * 2 ** doublings);
}

/**
 * Delay before the next attempt after the `failures`-th failure.
 * @param random uniform in [0, 1), like Math.random
 * @param retryAfterMs the peer's Retry-After, if it sent one: the delay is at least this long
 *   (it may exceed maxBackoffMs: the peer knows best when it can take traffic again)
 */
export function nextRetryDelayMs(
  failures: number,
  settings: BackoffSettings,
  random: () => number,
  retryAfterMs?: number,
): number {
  const jittered = Math.floor(random() * (backoffCeilingMs(failures, settings) + 1));
  const floor = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) ? Math.max(0, Math.ceil(retryAfterMs)) : 0;
  return Math.max(jittered, floor);
}
