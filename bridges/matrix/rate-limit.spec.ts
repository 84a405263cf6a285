import { rateLimitWaitMs, retryRateLimited } from './rate-limit';

const NOW = 1_000_000;
const limited = (extra: Record<string, unknown> = {}) => ({
  statusCode: 429,
  body: { errcode: 'M_LIMIT_EXCEEDED' },
  ...extra,
});

describe(rateLimitWaitMs.name, () => {
  it.each([
    ['the bot SDK’s parsed retryAfterMs', limited({ retryAfterMs: 1500 }), 1500],
    ['retry_after_ms in the body', limited({ body: { retry_after_ms: 2500 } }), 2500],
    ['a Retry-After header in seconds', limited({ headers: { 'retry-after': '3' } }), 3000],
    ['a 429 without a hint', limited(), 0],
    ['a negative hint (ignored)', limited({ body: { retry_after_ms: -5 } }), 0],
  ])('reads %s', (_what, e, expected) => {
    expect(rateLimitWaitMs(e)).toBe(expected);
  });

  it('is undefined for anything but a 429', () => {
    expect(rateLimitWaitMs({ statusCode: 503, retryAfterMs: 100 })).toBeUndefined();
    expect(rateLimitWaitMs(new Error('ECONNRESET'))).toBeUndefined();
  });
});

describe(retryRateLimited.name, () => {
  let now: number;
  let waits: number[];
  const opts = () => ({
    now: () => now,
    sleep: async (ms: number) => {
      waits.push(ms);
      now += ms;
    },
  });
  beforeEach(() => {
    now = NOW;
    waits = [];
  });

  /** fn failing with the given errors, then answering 'ok'. */
  const failing = (...errors: unknown[]) => {
    let calls = 0;
    const fn = jest.fn(async () => {
      const e = errors[calls++];
      if (e !== undefined) throw e;
      return 'ok';
    });
    return fn;
  };

  it('waits the hinted time before each resend, then returns the answer', async () => {
    const fn = failing(limited({ retryAfterMs: 700 }), limited({ body: { retry_after_ms: 300 } }));
    await expect(retryRateLimited(fn, NOW + 10_000, opts())).resolves.toBe('ok');
    expect(waits).toEqual([700, 300]);
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it('tells onWait of each wait before it, and not of an answer', async () => {
    const told: number[] = [];
    const fn = failing(limited({ retryAfterMs: 700 }), limited());
    await retryRateLimited(fn, NOW + 10_000, { ...opts(), onWait: (ms) => told.push(ms) });
    expect(told).toEqual([700, 2000]);
    expect(told).toEqual(waits);
  });

  it('backs off 1 s, 2 s, … on 429s without a hint', async () => {
    const fn = failing(limited(), limited(), limited());
    await expect(retryRateLimited(fn, NOW + 60_000, opts())).resolves.toBe('ok');
    expect(waits).toEqual([1000, 2000, 4000]);
  });

  it('throws the 429 when its wait would pass the deadline, without waiting', async () => {
    const e = limited({ retryAfterMs: 5000 });
    await expect(retryRateLimited(failing(e), NOW + 5000, opts())).rejects.toBe(e);
    expect(waits).toEqual([]);
  });

  it('throws any other error at once', async () => {
    const e = { statusCode: 500 };
    const fn = failing(e);
    await expect(retryRateLimited(fn, NOW + 60_000, opts())).rejects.toBe(e);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
