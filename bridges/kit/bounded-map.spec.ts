import { BoundedMap } from './bounded-map';

describe(BoundedMap.name, () => {
  it('forgets the least recently set entries beyond its bound', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('a', 3).set('c', 4);
    expect([...m.keys()]).toEqual(['a', 'c']);
    expect(m.get('b')).toBeUndefined();
    expect(m.size).toBe(2);
  });
});
