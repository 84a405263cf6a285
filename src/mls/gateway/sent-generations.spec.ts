import { SentGenerations } from './sent-generations';

describe('SentGenerations', () => {
  it('keeps the highest next generation per group, epoch and leaf', () => {
    const sent = new SentGenerations(2);
    expect(sent.floor('g', 5n, 1)).toBe(0);
    sent.record('g', 5n, 1, 3);
    sent.record('g', 5n, 1, 2);
    expect(sent.floor('g', 5n, 1)).toBe(3);
    expect(sent.floor('g', 5n, 2)).toBe(0);
    expect(sent.floor('h', 5n, 1)).toBe(0);
  });

  it('forgets epochs older than the kept ones, and dropped groups', () => {
    const sent = new SentGenerations(2);
    sent.record('g', 1n, 0, 4);
    sent.record('g', 3n, 0, 1);
    expect(sent.floor('g', 1n, 0)).toBe(4);
    sent.record('g', 4n, 0, 1);
    expect(sent.floor('g', 1n, 0)).toBe(0);
    expect(sent.floor('g', 3n, 0)).toBe(1);
    sent.drop('g');
    expect(sent.floor('g', 4n, 0)).toBe(0);
  });
});
