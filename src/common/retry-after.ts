/**
 * `Retry-After` (RFC 9110 §10.2.3): either delta-seconds or an HTTP-date. protocol-06 §5.5 asks a
 * hub to respect it when retrying /notify; we honour it for every endpoint.
 */

/** Upper bound on what a peer may ask for, so a hostile value cannot stall a stream for ever. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Milliseconds to wait before retrying, from a Retry-After value; undefined when absent or
 * unparsable. A date in the past means 0; values are capped at MAX_RETRY_AFTER_MS.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, nowMs: number): number | undefined {
  const v = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, MAX_RETRY_AFTER_MS);
  // HTTP-date: IMF-fixdate, or the obsolete RFC 850 and asctime forms, all of which name a weekday.
  if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}
