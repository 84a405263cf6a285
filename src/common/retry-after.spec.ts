import { MAX_RETRY_AFTER_MS, parseRetryAfter } from './retry-after';

/** A whole second, so that HTTP-dates (second precision) convert exactly. */
const NOW_MS = Date.UTC(2026, 4, 1, 12, 0, 0);
const TWO_MINUTES_MS = 120_000;

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('7', NOW_MS)).toBe(7000);
    expect(parseRetryAfter('0', NOW_MS)).toBe(0);
    expect(parseRetryAfter([' 12 '], NOW_MS)).toBe(12_000);
  });

  it('reads an IMF-fixdate and the two obsolete HTTP-date forms', () => {
    const at = new Date(NOW_MS + TWO_MINUTES_MS);
    expect(parseRetryAfter(at.toUTCString(), NOW_MS)).toBe(TWO_MINUTES_MS);
    expect(parseRetryAfter('Friday, 01-May-26 12:02:00 GMT', NOW_MS)).toBe(TWO_MINUTES_MS);
    expect(parseRetryAfter('Fri May  1 12:02:00 2026', NOW_MS)).toBe(TWO_MINUTES_MS);
  });

  it('treats a date in the past as "now"', () => {
    expect(parseRetryAfter(new Date(NOW_MS - TWO_MINUTES_MS).toUTCString(), NOW_MS)).toBe(0);
  });

  it('caps absurd values', () => {
    expect(parseRetryAfter('99999999999', NOW_MS)).toBe(MAX_RETRY_AFTER_MS);
  });

  it.each([undefined, '', '-1', '1.5', 'soon', '2026-05-01T12:02:00Z'])('ignores %p', (value) => {
    expect(parseRetryAfter(value, NOW_MS)).toBeUndefined();
  });
});
