import fc from 'fast-check';
import { BackoffSettings, backoffCeilingMs, nextRetryDelayMs } from './retry-policy';

const SETTINGS: BackoffSettings = { initialBackoffMs: 500, maxBackoffMs: 300_000 };
const ALWAYS_LOWEST = () => 0;
const ALMOST_ONE = 1 - Number.EPSILON;
const ALWAYS_HIGHEST = () => ALMOST_ONE;
const RETRY_AFTER_MS = 120_000;

const settingsArb = fc
  .record({ initialBackoffMs: fc.integer({ min: 1, max: 10_000 }), extra: fc.integer({ min: 0, max: 10_000_000 }) })
  .map(({ initialBackoffMs, extra }) => ({ initialBackoffMs, maxBackoffMs: initialBackoffMs + extra }));
const randomArb = fc.double({ min: 0, max: ALMOST_ONE, noNaN: true });
const failuresArb = fc.integer({ min: 1, max: 10_000 });

describe(backoffCeilingMs.name, () => {
  it('starts at the initial backoff and doubles per failure up to the cap', () => {
    expect([1, 2, 3, 4].map((n) => backoffCeilingMs(n, SETTINGS))).toEqual([500, 1_000, 2_000, 4_000]);
    expect(backoffCeilingMs(10, SETTINGS)).toBe(256_000);
    expect(backoffCeilingMs(11, SETTINGS)).toBe(SETTINGS.maxBackoffMs);
    expect(backoffCeilingMs(1_000_000, SETTINGS)).toBe(SETTINGS.maxBackoffMs);
  });

  it('never decreases with more failures and stays within [initial, max]', () => {
    fc.assert(
      fc.property(settingsArb, failuresArb, (settings, n) => {
        const ceiling = backoffCeilingMs(n, settings);
        expect(ceiling).toBeGreaterThanOrEqual(settings.initialBackoffMs);
        expect(ceiling).toBeLessThanOrEqual(settings.maxBackoffMs);
        expect(backoffCeilingMs(n + 1, settings)).toBeGreaterThanOrEqual(ceiling);
      }),
    );
  });
});

describe(nextRetryDelayMs.name, () => {
  it('draws the delay from the whole range [0, ceiling] (full jitter)', () => {
    expect(nextRetryDelayMs(3, SETTINGS, ALWAYS_LOWEST)).toBe(0);
    expect(nextRetryDelayMs(3, SETTINGS, ALWAYS_HIGHEST)).toBe(2_000);
    expect(nextRetryDelayMs(3, SETTINGS, () => 0.5)).toBe(1_000);
  });

  it('is a whole number of milliseconds within [0, ceiling] for any random draw', () => {
    fc.assert(
      fc.property(settingsArb, failuresArb, randomArb, (settings, n, r) => {
        const delay = nextRetryDelayMs(n, settings, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(backoffCeilingMs(n, settings));
      }),
    );
  });

  it('never retries sooner than the peer’s Retry-After, even past the cap', () => {
    expect(nextRetryDelayMs(1, SETTINGS, ALWAYS_HIGHEST, RETRY_AFTER_MS)).toBe(RETRY_AFTER_MS);
    expect(nextRetryDelayMs(20, SETTINGS, ALWAYS_LOWEST, SETTINGS.maxBackoffMs * 2)).toBe(SETTINGS.maxBackoffMs * 2);
    fc.assert(
      fc.property(
        settingsArb,
        failuresArb,
        randomArb,
        fc.integer({ min: 0, max: 10 ** 9 }),
        (settings, n, r, after) => {
          expect(nextRetryDelayMs(n, settings, () => r, after)).toBeGreaterThanOrEqual(after);
        },
      ),
    );
  });

  it('keeps the jittered delay when it is longer than Retry-After', () => {
    expect(nextRetryDelayMs(10, SETTINGS, ALWAYS_HIGHEST, 1)).toBe(256_000);
  });
});
