/**
 * The current time, injectable so that tests control it (backoff, leases, Retry-After).
 * Milliseconds since the Unix epoch, like `Date.now()`.
 */
export interface Clock {
  now(): number;
}

/** Nest injection token for the Clock. */
export const CLOCK = Symbol('CLOCK');

/** The real wall clock. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
}
