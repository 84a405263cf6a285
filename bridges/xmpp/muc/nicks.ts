/**
 * MUC nicknames for puppets (component mode) and the bridge's bot.
 *
 * XEP-0045 §7.2.9 leaves nick conflicts to the service, and Prosody only refuses exact duplicates
 * ("Alice" and "alice" may both be present) and nicks that fail strict resourceprep (an emoji,
 * a right-to-left override). XEP-0045 §16.4 warns that look-alike nicks allow spoofing, and
 * advises matching nicks with stricter rules. So the bridge compares *skeletons* (Unicode NFKC,
 * case folded, marks and invisible characters removed, a small table of Cyrillic/Greek/digit
 * look-alikes mapped to Latin, in the spirit of UTS #39 §4) and gives a puppet whose wanted nick
 * looks like a present occupant's a visible suffix: "Alice (mimi)", then "Alice (mimi 2)", … The
 * order of candidates is fixed, so the same room state always yields the same nick.
 */

/** Longest nick the bridge produces, in code points (resourceprep allows far more; clients don't). */
export const NICK_MAX_CODEPOINTS = 48;
const MIMI_NICK_SUFFIX = 'mimi';

/** Control, format (bidi overrides, zero-width), surrogate, private-use and unassigned code points. */
const INVISIBLE_OR_CONTROL = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]/gu;
/** Pictographs and their variation selectors: Prosody's strict resourceprep (Unicode 3.2) rejects most. */
const PICTOGRAPHIC = /\p{Extended_Pictographic}|\p{Emoji_Modifier}|[\u{FE00}-\u{FE0F}]|[\u{E0020}-\u{E007F}]/gu;

function truncateCodepoints(s: string, max: number): string {
  const cps = [...s];
  return cps.length <= max ? s : cps.slice(0, max).join('').trimEnd();
}

/**
 * The nick a display name asks for: NFKC, without control/format/invisible characters and
 * pictographs, runs of white space collapsed, trimmed, at most NICK_MAX_CODEPOINTS long.
 * Falls back to `fallback` (put through the same steps) when nothing printable is left.
 */
export function nickBase(displayName: string | undefined, fallback: string): string {
  const clean = (s: string): string =>
    truncateCodepoints(
      s.normalize('NFKC').replace(INVISIBLE_OR_CONTROL, '').replace(PICTOGRAPHIC, '').replace(/\s+/gu, ' ').trim(),
      NICK_MAX_CODEPOINTS,
    );
  const fromName = displayName === undefined ? '' : clean(displayName);
  if (fromName) return fromName;
  return clean(fallback) || 'mimi-user';
}

/**
 * ASCII-only form of a nick (diacritics dropped, other characters removed), for servers that refuse
 * the Unicode form (Prosody answers `jid-malformed` when strict resourceprep fails).
 */
export function asciiNick(nick: string, fallback: string): string {
  const ascii = (s: string): string =>
    s
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .replace(/[^\x20-\x7e]/g, '')
      .replace(/\s+/g, ' ')
      .trim();
  return ascii(nick) || ascii(fallback) || 'mimi-user';
}

/** Look-alikes mapped to the Latin letter they imitate (after case folding). A small, fixed table. */
const CONFUSABLES: Readonly<Record<string, string>> = {
  // Cyrillic
  а: 'a',
  в: 'b',
  с: 'c',
  ԁ: 'd',
  е: 'e',
  ё: 'e',
  һ: 'h',
  і: 'l',
  ї: 'l',
  ј: 'j',
  к: 'k',
  ӏ: 'l',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  ԛ: 'q',
  ѕ: 's',
  т: 't',
  у: 'y',
  ԝ: 'w',
  х: 'x',
  ь: 'b',
  г: 'r',
  п: 'n',
  // Greek
  α: 'a',
  β: 'b',
  ε: 'e',
  η: 'n',
  ι: 'l',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  γ: 'y',
  ω: 'w',
  // Latin and digits that imitate Latin letters
  ı: 'l',
  i: 'l',
  ɩ: 'l',
  '1': 'l',
  '|': 'l',
  '!': 'l',
  '0': 'o',
  '5': 's',
  $: 's',
  '@': 'a',
};

/**
 * Comparison key for look-alike nicks: two nicks with the same skeleton may be mistaken for each
 * other. Not a display form. Deliberately coarse: a false match only costs a visible suffix.
 */
export function nickSkeleton(nick: string): string {
  const folded = nick.normalize('NFKC').toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '');
  let out = '';
  for (const ch of folded) {
    if (/[\s\p{Cf}\p{Cc}_\-.·'’`]/u.test(ch)) continue;
    out += CONFUSABLES[ch] ?? ch;
  }
  return out.replace(/rn/g, 'm').replace(/vv/g, 'w');
}

/** Candidate number `attempt` for `base`: "base", "base (mimi)", "base (mimi 2)", "base (mimi 3)", … */
export function nickCandidate(base: string, attempt: number): string {
  if (attempt <= 0) return base;
  const suffix = attempt === 1 ? ` (${MIMI_NICK_SUFFIX})` : ` (${MIMI_NICK_SUFFIX} ${attempt})`;
  return truncateCodepoints(base, NICK_MAX_CODEPOINTS - [...suffix].length) + suffix;
}

/**
 * The first candidate, from `fromAttempt` on, whose skeleton matches none of the `taken` nicks.
 * Deterministic: same base and same room, same answer.
 */
export function chooseNick(
  base: string,
  taken: Iterable<string>,
  fromAttempt = 0,
): { readonly nick: string; readonly attempt: number } {
  const skeletons = new Set<string>();
  for (const t of taken) skeletons.add(nickSkeleton(t));
  for (let attempt = fromAttempt; ; attempt++) {
    const nick = nickCandidate(base, attempt);
    if (!skeletons.has(nickSkeleton(nick))) return { nick, attempt };
  }
}
