import fc from 'fast-check';
import { asciiNick, chooseNick, NICK_MAX_CODEPOINTS, nickBase, nickCandidate, nickSkeleton } from './nicks';

const FALLBACK = 'dave';

describe('nickBase', () => {
  it('normalises, strips invisible characters and pictographs, and collapses spaces', () => {
    expect(nickBase('  Ａlice\u200B  \u202Eevil\u202C ', FALLBACK)).toBe('Alice evil');
    expect(nickBase('Dave 😀\uFE0F', FALLBACK)).toBe('Dave');
    expect(nickBase('🦄🦄', FALLBACK)).toBe('dave');
    expect(nickBase(undefined, '')).toBe('mimi-user');
    expect([...nickBase('x'.repeat(200), FALLBACK)]).toHaveLength(NICK_MAX_CODEPOINTS);
  });
});

describe('asciiNick', () => {
  it('keeps the printable ASCII of a nick, or the fallback', () => {
    expect(asciiNick('Zoë ꞵ', FALLBACK)).toBe('Zoe');
    expect(asciiNick('שלום', FALLBACK)).toBe('dave');
  });
});

describe('nickSkeleton', () => {
  it('matches case, width, diacritics, invisible characters and Cyrillic/Greek look-alikes', () => {
    const alice = nickSkeleton('Alice');
    for (const lookalike of ['alice', 'ALICE', 'Ａlice', 'Аlice', 'Alice\u200B', 'Alíce', 'A1ice', 'Al1ce']) {
      expect(nickSkeleton(lookalike)).toBe(alice);
    }
    expect(nickSkeleton('rnike')).toBe(nickSkeleton('mike'));
    expect(nickSkeleton('Bob')).not.toBe(alice);
  });
});

describe('chooseNick', () => {
  it('adds a visible suffix only when the nick looks like a present one', () => {
    expect(chooseNick('Dave', ['alice'])).toEqual({ nick: 'Dave', attempt: 0 });
    expect(chooseNick('Dave', ['dave'])).toEqual({ nick: 'Dave (mimi)', attempt: 1 });
    expect(chooseNick('Dave', ['Dаve', 'Dave (mimi)'])).toEqual({ nick: 'Dave (mimi 2)', attempt: 2 });
    expect(chooseNick('Dave', [], 3).nick).toBe('Dave (mimi 3)');
  });

  it('never returns a nick that looks like a taken one, and is deterministic', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.array(fc.string({ maxLength: 25 }), { maxLength: 8 }),
        (name, taken) => {
          const base = nickBase(name, FALLBACK);
          const chosen = chooseNick(base, taken);
          expect(taken.map(nickSkeleton)).not.toContain(nickSkeleton(chosen.nick));
          expect(chooseNick(base, taken)).toEqual(chosen);
          expect([...chosen.nick].length).toBeLessThanOrEqual(NICK_MAX_CODEPOINTS);
        },
      ),
    );
  });

  it('keeps the suffix visible when the base is long', () => {
    expect(nickCandidate('x'.repeat(NICK_MAX_CODEPOINTS), 2).endsWith(' (mimi 2)')).toBe(true);
  });
});
