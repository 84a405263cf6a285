import { RecentDigests } from './recent-digests';

describe('RecentDigests', () => {
  it('remembers the last `size` digests and forgets older ones, oldest first', () => {
    const r = new RecentDigests(3);
    for (const d of ['a', 'b', 'c']) r.add(d);
    expect(['a', 'b', 'c'].map((d) => r.has(d))).toEqual([true, true, true]);
    r.add('d');
    expect(['a', 'b', 'c', 'd'].map((d) => r.has(d))).toEqual([false, true, true, true]);
    r.add('e');
    r.add('f');
    r.add('g');
    expect(['d', 'e', 'f', 'g'].map((d) => r.has(d))).toEqual([false, true, true, true]);
  });
});
