/**
 * Mentions between MIMI and XMPP. Pure: who a nick or a user URI is comes in as a lookup.
 *
 * - MIMI (content-08 §5.4, §9.6): a link to a user's URI in GFM-MIMI Markdown,
 *   `[@Alice](mimi://a.example/u/alice)`. The link text is only a hint.
 * - XMPP: the occupant's nick in the body, which is what clients highlight, plus an XEP-0372
 *   reference `<reference xmlns='urn:xmpp:reference:0' type='mention' begin end uri='xmpp:room@muc/nick'/>`
 *   (offsets in code points, `end` exclusive, as XEP-0426 counts characters).
 *
 * Out (MIMI → XMPP): `markMentions` swaps each mention link of a user who has a nick in the room
 * for a marker around that nick; the styling conversion keeps the marker as the link's text, and
 * `takeMentionMarks` removes the markers from the finished body (reply quote included), giving
 * each nick's offsets.
 * In (XMPP → MIMI): `findMentions` reads the references and a leading `nick: ` / `nick, ` (how
 * XMPP clients address someone); `markdownWithMentions` writes them as Markdown links.
 */

/** A mention in an XMPP body: code points `begin` to `end` (exclusive) name `userUri`. */
export interface InboundMention {
  readonly begin: number;
  readonly end: number;
  readonly userUri: string;
}

/** An XEP-0372 mention to put on an outbound body. */
export interface OutboundMention {
  readonly begin: number;
  readonly end: number;
  /** `xmpp:room@service/nick` of the occupant mentioned. */
  readonly uri: string;
}

const OPEN = '\uE010';
const SEP = '\uE012';
const CLOSE = '\uE011';
const MARKERS = /[\uE010-\uE012]/g;

/** A Markdown link to a MIMI user URI; the text may hold escaped characters (`\]`). */
const MENTION_LINK = /\[((?:\\.|[^\]\\])*)\]\(\s*<?(mimi:\/\/[^/\s()<>]+\/u\/[^\s()<>]+)>?\s*\)/g;

/** Markdown text that shows `s` as it is (no span, link or HTML syntax). */
function escapeInline(s: string): string {
  return s.replace(/[\\`*_~[\]()<>|#+\-.!{}]/g, '\\$&');
}

/**
 * The Markdown with every mention of a user who has a nick in the room (`nickOf`) turned into a
 * marked nick, and the room-local URIs of those nicks in order. Mentions of anyone else keep
 * their link (their text is shown).
 */
export function markMentions(
  markdown: string,
  nickOf: (userUri: string) => string | undefined,
  roomJid: string,
): { markdown: string; uris: string[] } {
  const uris: string[] = [];
  const marked = markdown.replace(MARKERS, '').replace(MENTION_LINK, (link, _text: string, uri: string) => {
    const nick = nickOf(uri);
    if (nick === undefined || nick === '') return link;
    uris.push(occupantUri(roomJid, nick));
    return `[${OPEN}${uris.length - 1}${SEP}${escapeInline(nick)}${CLOSE}](${uri})`;
  });
  return { markdown: marked, uris };
}

/** The body without the markers `markMentions` put in, and where each marked nick now stands. */
export function takeMentionMarks(body: string, uris: readonly string[]): { body: string; mentions: OutboundMention[] } {
  const mentions: OutboundMention[] = [];
  const out: string[] = [];
  let open: { index: number; begin: number } | undefined;
  let digits: string | undefined;
  for (const cp of body) {
    if (cp === OPEN) {
      open = undefined;
      digits = '';
    } else if (digits !== undefined && cp === SEP) {
      open = /^\d+$/.test(digits) ? { index: Number(digits), begin: out.length } : undefined;
      digits = undefined;
    } else if (digits !== undefined) {
      digits += cp;
    } else if (cp === CLOSE) {
      const uri = open === undefined ? undefined : uris[open.index];
      if (open !== undefined && uri !== undefined && out.length > open.begin) {
        mentions.push({ begin: open.begin, end: out.length, uri });
      }
      open = undefined;
    } else {
      out.push(cp);
    }
  }
  return { body: out.join(''), mentions };
}

/** `xmpp:room@service/nick` (RFC 5122; the nick percent-encoded where an IRI needs it). */
export function occupantUri(roomJid: string, nick: string): string {
  return `xmpp:${roomJid}/${encodeURIComponent(nick).replace(/%40/g, '@')}`;
}

/** Who an `xmpp:` URI names: an occupant of `roomJid` by nick, or a user by bare JID. */
export function parseXmppUri(uri: string, roomJid: string): { nick: string } | { jid: string } | undefined {
  if (!uri.startsWith('xmpp:')) return undefined;
  const rest = uri.slice('xmpp:'.length).split('?')[0]!;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    return undefined;
  }
  const slash = decoded.indexOf('/');
  const bareJid = (slash < 0 ? decoded : decoded.slice(0, slash)).toLowerCase();
  if (bareJid === roomJid.toLowerCase()) return slash < 0 ? undefined : { nick: decoded.slice(slash + 1) };
  return bareJid.includes('@') ? { jid: bareJid } : undefined;
}

/** Who a nick or a JID in a mention is, as a MIMI user URI (undefined: not known in the room). */
export interface MentionLookup {
  byNick(nick: string): string | undefined;
  byJid(jid: string): string | undefined;
  /** Nicks of the occupants now in the room (for `nick: ` at the start of a body). */
  nicks(): Iterable<string>;
}

/**
 * The mentions in a body: its XEP-0372 mention references that point at a range of it, and a
 * leading `nick: ` or `nick, ` naming an occupant other than the sender (the longest nick that
 * fits; "alice, …" from alice herself is not a mention). Sorted, never overlapping.
 */
export function findMentions(
  body: string,
  references: readonly {
    readonly type: string;
    readonly uri: string;
    readonly begin?: number;
    readonly end?: number;
  }[],
  roomJid: string,
  lookup: MentionLookup,
  senderNick?: string,
): InboundMention[] {
  const length = [...body].length;
  const found: InboundMention[] = [];
  for (const r of references) {
    if (r.type !== 'mention' || r.begin === undefined || r.end === undefined || r.end > length) continue;
    const who = parseXmppUri(r.uri, roomJid);
    const userUri = who === undefined ? undefined : 'nick' in who ? lookup.byNick(who.nick) : lookup.byJid(who.jid);
    if (userUri !== undefined) found.push({ begin: r.begin, end: r.end, userUri });
  }
  let best: string | undefined;
  for (const nick of lookup.nicks()) {
    if (nick === '' || nick === senderNick || (best !== undefined && nick.length <= best.length)) continue;
    if (body.startsWith(nick) && /^[:,] /.test(body.slice(nick.length))) best = nick;
  }
  const userUri = best === undefined ? undefined : lookup.byNick(best);
  if (best !== undefined && userUri !== undefined) found.push({ begin: 0, end: [...best].length, userUri });
  found.sort((a, b) => a.begin - b.begin || b.end - a.end);
  return found.filter((m, i) => i === 0 || m.begin >= found[i - 1]!.end);
}

/**
 * The mentions of a body once the code points `removed` (sorted, non-overlapping `[start, end)`
 * ranges: a reply's fallback quote, an emote's `/me `) are taken out of it; a mention that
 * overlaps a removed range is dropped.
 */
export function shiftMentions(
  mentions: readonly InboundMention[],
  removed: readonly (readonly [number, number])[],
): InboundMention[] {
  const out: InboundMention[] = [];
  for (const m of mentions) {
    if (removed.some(([s, e]) => m.begin < e && s < m.end)) continue;
    const before = removed.reduce((n, [s, e]) => (e <= m.begin ? n + (e - s) : n), 0);
    out.push({ ...m, begin: m.begin - before, end: m.end - before });
  }
  return out;
}

/**
 * The GFM-MIMI Markdown of a body with mentions: `toMarkdown` (XEP-0393 styling → Markdown, or
 * undefined for a body without styling, then `escape`d as plain text) converts the text with
 * each mention set aside, and each mention becomes a link to its user's URI. Without mentions,
 * just `toMarkdown`.
 */
export function markdownWithMentions(
  text: string,
  mentions: readonly InboundMention[],
  toMarkdown: (s: string) => string | undefined,
  escape: (s: string) => string,
): string | undefined {
  if (mentions.length === 0) return toMarkdown(text);
  const cps = [...text.replace(MARKERS, ' ')];
  const texts: string[] = [];
  let aside = '';
  let at = 0;
  for (const m of mentions) {
    aside += cps.slice(at, m.begin).join('') + `${OPEN}${texts.length}${CLOSE}`;
    texts.push(cps.slice(m.begin, m.end).join(''));
    at = m.end;
  }
  aside += cps.slice(at).join('');
  const md = toMarkdown(aside) ?? escape(aside);
  return md.replace(/\uE010(\d+)\uE011/g, (_m, i: string) =>
    mentionLink(texts[Number(i)]!, mentions[Number(i)]!.userUri),
  );
}

/** A mention as GFM-MIMI Markdown: the text it had in the body, linked to the user's URI. */
function mentionLink(text: string, userUri: string): string {
  return `[${escapeInline(text)}](${userUri})`;
}
