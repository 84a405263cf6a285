/**
 * The current time, injectable so that tests control it (backoff, leases, Retry-After).
 * Milliseconds since the Unix epoch, like `Date.now()`.
 */
export interface Clock {
  now(): number;
}

/** Nest injection token for the Clock. */
export const CLOCK = Symbol('CLOCK');

/**
 * Test-only: a gateway process started with `MIMI_TEST_CLOCK_OFFSET_MS=<ms>` runs its Clock that
 * far ahead (or behind, when negative) of the wall clock, to show what clock skew between
 * gateways does (RELIABILITY T31/T32, the soak's clock-skew fault). Read once per SystemClock.
 */
export const CLOCK_OFFSET_ENV = 'MIMI_TEST_CLOCK_OFFSET_MS';

/**
 * The offset in milliseconds that `value` asks for (0 when unset or empty).
 * @throws Error when it is not an integer, so that a typo in a test fails loudly.
 */
export function clockOffsetMs(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 0;
  const ms = Number(value);
  if (!Number.isInteger(ms)) throw new Error(`${CLOCK_OFFSET_ENV}=${value}: not a whole number of milliseconds`);
  return ms;
}

/** The real wall clock (plus the test-only offset, 0 outside tests). */
export class SystemClock implements Clock {
  private readonly offsetMs = clockOffsetMs(process.env[CLOCK_OFFSET_ENV]);

  now(): number {
    return Date.now() + this.offsetMs;
  }
}
