import { CLOCK_OFFSET_ENV, SystemClock, clockOffsetMs } from './clock';

describe('clockOffsetMs', () => {
  it('is 0 when unset or blank, and reads whole milliseconds either way', () => {
    expect(clockOffsetMs(undefined)).toBe(0);
    expect(clockOffsetMs('')).toBe(0);
    expect(clockOffsetMs('90000')).toBe(90_000);
    expect(clockOffsetMs('-5000')).toBe(-5000);
  });

  it('refuses what is not a whole number, naming the variable', () => {
    expect(() => clockOffsetMs('10s')).toThrow(/MIMI_TEST_CLOCK_OFFSET_MS=10s: not a whole number/);
    expect(() => clockOffsetMs('1.5')).toThrow(/not a whole number/);
  });
});

describe('SystemClock', () => {
  const saved = process.env[CLOCK_OFFSET_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[CLOCK_OFFSET_ENV];
    else process.env[CLOCK_OFFSET_ENV] = saved;
  });

  it('is the wall clock without the variable', () => {
    delete process.env[CLOCK_OFFSET_ENV];
    const before = Date.now();
    const now = new SystemClock().now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('runs ahead or behind by the offset the variable gives', () => {
    for (const offset of [3_600_000, -3_600_000]) {
      process.env[CLOCK_OFFSET_ENV] = String(offset);
      const clock = new SystemClock();
      const before = Date.now();
      const now = clock.now();
      expect(now - offset).toBeGreaterThanOrEqual(before);
      expect(now - offset).toBeLessThanOrEqual(Date.now());
    }
  });
});
