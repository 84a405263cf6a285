import { deeperThan } from './json-depth';

const nested = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));

describe('deeperThan', () => {
  it('counts arrays and objects as levels, scalars as none', () => {
    expect(deeperThan(7, 0)).toBe(false);
    expect(deeperThan('x', 0)).toBe(false);
    expect(deeperThan([], 0)).toBe(true);
    expect(deeperThan({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(deeperThan({ a: [{ b: {} }] }, 3)).toBe(true);
  });

  it('accepts a value nested exactly to the limit and refuses one level more', () => {
    expect(deeperThan(nested(512), 512)).toBe(false);
    expect(deeperThan(nested(513), 512)).toBe(true);
  });

  it('measures a 1 MB nesting bomb without overflowing the stack', () => {
    const bomb = nested(500_000);
    expect(() => JSON.stringify(bomb)).toThrow(RangeError);
    expect(deeperThan(bomb, 512)).toBe(true);
  });
});
