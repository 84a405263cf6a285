import { TokenBuckets } from './peer-rate-limit';

const RATE = { perSecond: 2, burst: 3 };

describe('TokenBuckets', () => {
  it('allows a burst, then refuses with the wait until the next token', () => {
    const b = new TokenBuckets();
    for (let i = 0; i < 3; i++) expect(b.take('p keyMaterial', RATE, 0)).toBeUndefined();
    expect(b.take('p keyMaterial', RATE, 0)).toBe(500);
    expect(b.take('p keyMaterial', RATE, 250)).toBe(250);
    expect(b.take('p keyMaterial', RATE, 500)).toBeUndefined();
    expect(b.take('p keyMaterial', RATE, 500)).toBe(500);
  });

  it('keeps one bucket per key: another peer is not affected', () => {
    const b = new TokenBuckets();
    for (let i = 0; i < 3; i++) b.take('noisy keyMaterial', RATE, 0);
    expect(b.take('noisy keyMaterial', RATE, 0)).toBeDefined();
    expect(b.take('quiet keyMaterial', RATE, 0)).toBeUndefined();
    expect(b.take('noisy notify', RATE, 0)).toBeUndefined();
  });

  it('refills up to the burst only', () => {
    const b = new TokenBuckets();
    b.take('k', RATE, 0);
    for (let i = 0; i < 3; i++) expect(b.take('k', RATE, 60_000)).toBeUndefined();
    expect(b.take('k', RATE, 60_000)).toBe(500);
  });

  it('sweeps idle buckets when many keys were seen', () => {
    const b = new TokenBuckets();
    for (let i = 0; i < 10_000; i++) b.take(`k${i}`, RATE, 0);
    expect(b.size).toBe(10_000);
    b.take('fresh', RATE, 10_000);
    expect(b.size).toBe(1);
  });
});
