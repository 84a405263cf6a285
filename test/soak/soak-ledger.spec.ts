import { Ledger, checkView, compareHistories, parseTag, percentile } from './soak-ledger';

function ledgerOf(...sends: [string, string, 'confirmed' | 'unknown'][]): Ledger {
  const l = new Ledger();
  for (const [room, sender, status] of sends) l.next(room, sender).status = status;
  return l;
}

describe('soak tags', () => {
  it('read back only exact post tags', () => {
    expect(parseTag('soak R1 alice 3')).toEqual({ room: 'R1', sender: 'alice', n: 3 });
    expect(parseTag(' soak R1 alice 3 ')).toEqual({ room: 'R1', sender: 'alice', n: 3 });
    expect(parseTag('* soak R1 alice 3')).toBeUndefined();
    expect(parseTag('soak-edit R1 alice 3')).toBeUndefined();
    expect(parseTag(undefined)).toBeUndefined();
  });

  it('count up per room and sender', () => {
    const l = new Ledger();
    expect(l.next('R1', 'alice').tag).toBe('soak R1 alice 1');
    expect(l.next('R1', 'alice').tag).toBe('soak R1 alice 2');
    expect(l.next('R2', 'alice').tag).toBe('soak R2 alice 1');
    expect(l.next('R1', 'bob').tag).toBe('soak R1 bob 1');
  });
});

describe('checkView', () => {
  const l = ledgerOf(
    ['R1', 'alice', 'confirmed'],
    ['R1', 'alice', 'confirmed'],
    ['R1', 'alice', 'unknown'],
    ['R1', 'bob', 'confirmed'],
    ['R1', 'bob', 'unknown'],
  );

  it('passes a view that shows every confirmed post once, each sender in order, interleaved', () => {
    const r = checkView('v', 'R1', l, ['soak R1 bob 1', 'soak R1 alice 1', 'soak R1 alice 2', 'soak R1 alice 3']);
    expect(r).toEqual({ view: 'v', lost: [], duplicated: {}, reordered: [], unknown: [], unconfirmedArrived: 1 });
  });

  it('counts a missing confirmed post as lost, a missing unconfirmed one as not', () => {
    const r = checkView('v', 'R1', l, ['soak R1 alice 1', 'soak R1 bob 1']);
    expect(r.lost).toEqual(['soak R1 alice 2']);
    expect(r.unconfirmedArrived).toBe(0);
  });

  it('counts an unconfirmed post that other views show as lost where it is missing', () => {
    const r = checkView(
      'v',
      'R1',
      l,
      ['soak R1 alice 1', 'soak R1 alice 2', 'soak R1 bob 1'],
      new Set(['soak R1 bob 2']),
    );
    expect(r.lost).toEqual(['soak R1 bob 2']);
  });

  it('does not count an unconfirmed post arriving late as reordered', () => {
    const r = checkView('v', 'R1', l, ['soak R1 alice 1', 'soak R1 alice 2', 'soak R1 bob 1', 'soak R1 alice 3']);
    expect(r.reordered).toEqual([]);
    const late = checkView('v', 'R1', l, ['soak R1 alice 3', 'soak R1 alice 1', 'soak R1 alice 2', 'soak R1 bob 1']);
    expect(late.reordered).toEqual([]);
  });

  it('counts duplicates, also of unconfirmed posts', () => {
    const r = checkView('v', 'R1', l, [
      'soak R1 alice 1',
      'soak R1 alice 1',
      'soak R1 alice 2',
      'soak R1 bob 1',
      'soak R1 bob 2',
      'soak R1 bob 2',
      'soak R1 bob 2',
    ]);
    expect(r.duplicated).toEqual({ 'soak R1 alice 1': 2, 'soak R1 bob 2': 3 });
    expect(r.reordered).toEqual([]);
  });

  it('flags a post shown after a later post of its sender, and tags of other rooms or runs', () => {
    const r = checkView('v', 'R1', l, ['soak R1 alice 2', 'soak R1 bob 1', 'soak R1 alice 1', 'soak R9 x 1']);
    expect(r.reordered).toEqual(['soak R1 alice 1']);
    expect(r.unknown).toEqual(['soak R9 x 1']);
    expect(r.lost).toEqual([]);
  });
});

describe('compareHistories', () => {
  it('is empty when every gateway holds the same posts in the same order', () => {
    expect(compareHistories({ a: ['x', 'y'], b: ['x', 'y'], c: ['x', 'y'] })).toEqual([]);
  });

  it('names the gateway and the first position that differs', () => {
    expect(compareHistories({ a: ['x', 'y', 'z'], b: ['x', 'z', 'y'], c: ['x', 'y'] })).toEqual([
      'b differs from a at position 1: z vs y',
      'c holds 2 posts, a 3',
      'c lacks ["z"]',
    ]);
    expect(compareHistories({ a: ['x'], b: ['x', 'w'] })).toEqual([
      'b holds 2 posts, a 1',
      'b differs from a at position 1: w vs (none)',
      'b alone holds ["w"]',
    ]);
  });
});

describe('percentile', () => {
  it('is the nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 99)).toBeUndefined();
  });
});
