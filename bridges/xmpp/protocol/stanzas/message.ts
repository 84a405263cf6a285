/**
 * Message stanzas: groupchat messages both ways (XEP-0045 §7.4 with XEP-0308 corrections, XEP-0424
 * retractions, XEP-0444 reactions, XEP-0461 replies, XEP-0066/0447 files, XEP-0359 ids) and the
 * bot's private messages (§7.5).
 */
import { CodecError } from '../../../../src/common/errors';
import { bare, resourceOf } from '../jids';
import { NS } from '../namespaces';
import { xml, type XmlElement } from '../xml';
import { nonEmpty, parseDelay, text } from './values';

// ---------------------------------------------------------------------------------------------
// Messages

/** A file carried by URL (XEP-0066 out-of-band data, plus XEP-0447 metadata when known). */
export interface FileRef {
  readonly url: string;
  readonly mediaType?: string;
  readonly name?: string;
  readonly size?: number;
  readonly description?: string;
  /** SHA-256 of the bytes. */
  readonly sha256?: Uint8Array;
}

export interface OutboundGroupchat {
  /** Our sender: a puppet's full JID (component mode); omitted on a client stream. */
  readonly from?: string;
  /** The MUC's bare JID. */
  readonly to: string;
  /** The stanza `id`, also sent as the XEP-0359 origin-id: the MUC reflects it (muc#stable_id). */
  readonly id: string;
  readonly body?: string;
  /** XEP-0308: the `id` of the message this one corrects. */
  readonly replaceId?: string;
  /** XEP-0424: the MUC stanza-id of the message retracted. */
  readonly retractId?: string;
  /** XEP-0444: the full set of our reactions to the message with this MUC stanza-id. */
  readonly reactions?: { readonly id: string; readonly emojis: readonly string[] };
  /** XEP-0461: the message replied to; `fallbackLength` code points at the start of `body` quote it (XEP-0428). */
  readonly reply?: { readonly to?: string; readonly id: string; readonly fallbackLength?: number };
  readonly files?: readonly FileRef[];
  /** XEP-0172 nickname of the real author (relay mode). */
  readonly nick?: string;
  /** XEP-0372 mentions in `body` (code point offsets, `end` exclusive). */
  readonly references?: readonly Reference[];
  /** XEP-0333: a `displayed` marker for the message with this MUC stanza-id (a read receipt). */
  readonly displayed?: string;
  /** XEP-0334 store hint: without a body, Prosody archives (and stamps a stanza-id on) only hinted messages. */
  readonly store?: boolean;
}

/**
 * An XEP-0372 reference: `uri` (an `xmpp:` URI) is meant by the code points `begin` to `end`
 * (exclusive) of the body. Only `mention` references are read and written.
 */
export interface Reference {
  readonly type: string;
  readonly uri: string;
  readonly begin?: number;
  readonly end?: number;
}

/** Body a client without XEP-0424 shows for a retraction (XEP-0424 §4 recommends a fallback body). */
export const RETRACTION_FALLBACK_BODY = '/me retracted a message (your client does not show retractions)';

function fileSharing(f: FileRef): XmlElement {
  return xml(
    'file-sharing',
    { xmlns: NS.SFS, disposition: f.mediaType?.startsWith('image/') ? 'inline' : 'attachment' },
    xml(
      'file',
      { xmlns: NS.FILE_METADATA },
      f.mediaType ? xml('media-type', {}, text(f.mediaType)) : undefined,
      f.name ? xml('name', {}, text(f.name)) : undefined,
      f.size !== undefined ? xml('size', {}, String(f.size)) : undefined,
      f.sha256
        ? xml('hash', { xmlns: NS.HASHES, algo: 'sha-256' }, Buffer.from(f.sha256).toString('base64'))
        : undefined,
      f.description ? xml('desc', {}, text(f.description)) : undefined,
    ),
    xml('sources', {}, xml('url-data', { xmlns: NS.URL_DATA, target: text(f.url) })),
  );
}

/** A groupchat message to a MUC (XEP-0045 §7.4) with the extensions of `m`, in a fixed order. */
export function buildGroupchat(m: OutboundGroupchat): XmlElement {
  const children: XmlElement[] = [];
  if (m.body !== undefined) children.push(xml('body', {}, text(m.body)));
  if (m.nick !== undefined) children.push(xml('nick', { xmlns: NS.NICK }, text(m.nick)));
  if (m.replaceId !== undefined) children.push(xml('replace', { xmlns: NS.CORRECT, id: text(m.replaceId) }));
  if (m.retractId !== undefined) {
    children.push(xml('retract', { xmlns: NS.RETRACT, id: text(m.retractId) }));
    children.push(xml('fallback', { xmlns: NS.FALLBACK, for: NS.RETRACT }));
  }
  if (m.reactions !== undefined) {
    children.push(
      xml(
        'reactions',
        { xmlns: NS.REACTIONS, id: text(m.reactions.id) },
        m.reactions.emojis.map((e) => xml('reaction', {}, text(e))),
      ),
    );
  }
  if (m.displayed !== undefined) children.push(xml('displayed', { xmlns: NS.CHAT_MARKERS, id: text(m.displayed) }));
  if (m.reply !== undefined) {
    children.push(xml('reply', { xmlns: NS.REPLY, to: m.reply.to && text(m.reply.to), id: text(m.reply.id) }));
    if (m.reply.fallbackLength) {
      children.push(
        xml(
          'fallback',
          { xmlns: NS.FALLBACK, for: NS.REPLY },
          xml('body', { start: '0', end: String(m.reply.fallbackLength) }),
        ),
      );
    }
  }
  for (const f of m.files ?? []) {
    children.push(
      xml(
        'x',
        { xmlns: NS.OOB },
        xml('url', {}, text(f.url)),
        f.description ? xml('desc', {}, text(f.description)) : undefined,
      ),
    );
    children.push(fileSharing(f));
  }
  for (const r of m.references ?? []) {
    children.push(
      xml('reference', {
        xmlns: NS.REFERENCE,
        type: text(r.type),
        uri: text(r.uri),
        begin: r.begin === undefined ? undefined : String(r.begin),
        end: r.end === undefined ? undefined : String(r.end),
      }),
    );
  }
  if (m.store) children.push(xml('store', { xmlns: NS.HINTS }));
  children.push(xml('origin-id', { xmlns: NS.SID, id: text(m.id) }));
  return xml('message', { from: m.from, to: m.to, type: 'groupchat', id: text(m.id) }, children);
}

/** A private message to an occupant through the MUC (XEP-0045 §7.5), e.g. a failure notice. */
export function buildPrivateMessage(m: { from?: string; to: string; id: string; body: string }): XmlElement {
  return xml(
    'message',
    { from: m.from, to: m.to, type: 'chat', id: m.id },
    xml('body', {}, text(m.body)),
    xml('x', { xmlns: NS.MUC_USER }),
  );
}

export interface FallbackRange {
  readonly for: string;
  /** Code point offsets into the body (XEP-0428 §4); absent = the whole body. */
  readonly start?: number;
  readonly end?: number;
}

export interface ParsedGroupchat {
  /** Bare JID of the MUC. */
  readonly room: string;
  /** Occupant nick of the sender; '' for messages from the room itself. */
  readonly nick: string;
  /** Our JID it was addressed to. */
  readonly to: string;
  readonly id?: string;
  readonly originId?: string;
  /** XEP-0359 stanza-id stamped by the MUC (`by` = the room). */
  readonly stanzaId?: string;
  readonly occupantId?: string;
  readonly body?: string;
  readonly subject?: string;
  /** Milliseconds since the epoch, from XEP-0203 delay. */
  readonly delayedAt?: number;
  readonly replaceId?: string;
  /** XEP-0424: the stanza-id retracted, or (`legacy`, the 0.x fastening form) its origin-id. */
  readonly retract?: { readonly id: string; readonly legacy: boolean };
  readonly reactions?: { readonly id: string; readonly emojis: readonly string[] };
  /** XEP-0333: the id a `displayed` marker names (in a MUC, the stanza-id; some clients send the message's id). */
  readonly displayed?: string;
  readonly reply?: { readonly to?: string; readonly id: string };
  readonly fallbacks: readonly FallbackRange[];
  readonly files: readonly FileRef[];
  /** XEP-0372 references (well-formed ones only). */
  readonly references: readonly Reference[];
  /** Real JID of the sender, when the MUC discloses it (archived messages of non-anonymous rooms). */
  readonly realJid?: string;
  readonly nickHint?: string;
}

/** Longest reaction accepted, in code points (an emoji with modifiers and joiners). */
const MAX_REACTION_CODEPOINTS = 32;
/** Most reactions one sender may put on one message. */
const MAX_REACTIONS = 32;

function parseFiles(el: XmlElement): FileRef[] {
  const files: FileRef[] = [];
  const seen = new Set<string>();
  for (const sfs of el.getChildren('file-sharing', NS.SFS)) {
    const meta = sfs.getChild('file', NS.FILE_METADATA);
    const url = sfs.getChild('sources')?.getChild('url-data', NS.URL_DATA)?.attrs.target;
    if (!url || seen.has(url)) continue;
    seen.add(url);
    const sizeText = meta?.getChildText('size');
    const size = sizeText !== null && sizeText !== undefined && /^\d+$/.test(sizeText) ? Number(sizeText) : undefined;
    const hash = meta?.getChildren('hash', NS.HASHES).find((h) => h.attrs.algo === 'sha-256');
    const sha256 = hash ? Buffer.from(hash.getText().trim(), 'base64') : undefined;
    files.push({
      url,
      mediaType: nonEmpty(meta?.getChildText('media-type')),
      name: nonEmpty(meta?.getChildText('name')),
      size,
      description: nonEmpty(meta?.getChildText('desc')),
      sha256: sha256 && sha256.length === 32 ? new Uint8Array(sha256) : undefined,
    });
  }
  for (const oob of el.getChildren('x', NS.OOB)) {
    const url = nonEmpty(oob.getChildText('url')?.trim());
    if (!url || seen.has(url)) continue;
    seen.add(url);
    files.push({ url, description: nonEmpty(oob.getChildText('desc')) });
  }
  return files;
}

function parseReactions(el: XmlElement): { id: string; emojis: string[] } | undefined {
  const r = el.getChild('reactions', NS.REACTIONS);
  if (!r) return undefined;
  const id = r.attrs.id;
  if (!id) throw new CodecError('XEP-0444 <reactions/> without id');
  const emojis: string[] = [];
  for (const reaction of r.getChildren('reaction')) {
    const e = reaction.getText().trim();
    if (!e || [...e].length > MAX_REACTION_CODEPOINTS || emojis.includes(e)) continue;
    emojis.push(e);
  }
  if (emojis.length > MAX_REACTIONS) throw new CodecError(`XEP-0444: ${emojis.length} reactions in one stanza`);
  return { id, emojis };
}

function parseRetract(el: XmlElement): { id: string; legacy: boolean } | undefined {
  const r = el.getChild('retract', NS.RETRACT);
  if (r) {
    if (!r.attrs.id) throw new CodecError('XEP-0424 <retract/> without id');
    return { id: r.attrs.id, legacy: false };
  }
  // XEP-0424 0.3 and earlier: <apply-to xmlns='urn:xmpp:fasten:0' id=origin-id><retract xmlns='…:0'/></apply-to>
  const applyTo = el.getChild('apply-to', NS.FASTEN);
  if (applyTo?.getChild('retract', NS.RETRACT_0)) {
    if (!applyTo.attrs.id) throw new CodecError('XEP-0422 <apply-to/> without id');
    return { id: applyTo.attrs.id, legacy: true };
  }
  return undefined;
}

/** Most references read from one message. */
const MAX_REFERENCES = 64;

/** XEP-0372 references; one without type or uri, or with a bad range, is skipped (not an error: it only decorates the body). */
function parseReferences(el: XmlElement): Reference[] {
  const out: Reference[] = [];
  for (const r of el.getChildren('reference', NS.REFERENCE).slice(0, MAX_REFERENCES)) {
    const { type, uri } = r.attrs;
    if (!type || !uri) continue;
    const begin = r.attrs.begin === undefined ? undefined : Number(r.attrs.begin);
    const end = r.attrs.end === undefined ? undefined : Number(r.attrs.end);
    const ranged = begin !== undefined && end !== undefined;
    if (ranged && !(Number.isInteger(begin) && Number.isInteger(end) && begin >= 0 && end > begin)) continue;
    out.push(ranged ? { type, uri, begin, end } : { type, uri });
  }
  return out;
}

function parseFallbacks(el: XmlElement): FallbackRange[] {
  const out: FallbackRange[] = [];
  for (const f of el.getChildren('fallback', NS.FALLBACK)) {
    const forNs = f.attrs.for ?? '';
    const bodies = f.getChildren('body');
    if (bodies.length === 0) {
      out.push({ for: forNs });
      continue;
    }
    for (const b of bodies) {
      const start = Number(b.attrs.start);
      const end = Number(b.attrs.end);
      if (Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end >= start) {
        out.push({ for: forNs, start, end });
      }
    }
  }
  return out;
}

/**
 * Read a groupchat message reflected or archived by a MUC. `roomJid` is the room (the `from`'s
 * bare JID); the stanza-id counts only when stamped `by` that room (XEP-0359 §6: other values
 * may be forged by the sender).
 * @throws CodecError when the stanza is not a groupchat message from a MUC or an extension is malformed
 */
export function parseGroupchat(el: XmlElement): ParsedGroupchat {
  if (el.name !== 'message' || el.attrs.type !== 'groupchat') {
    throw new CodecError(`not a groupchat message: <${el.name} type='${el.attrs.type ?? ''}'>`);
  }
  const from = el.attrs.from;
  if (!from) throw new CodecError('groupchat message without from');
  const room = bare(from);
  const stanzaId = el
    .getChildren('stanza-id', NS.SID)
    .find((s) => s.attrs.by !== undefined && bare(s.attrs.by) === room && s.attrs.id);
  const replace = el.getChild('replace', NS.CORRECT);
  if (replace && !replace.attrs.id) throw new CodecError('XEP-0308 <replace/> without id');
  const reply = el.getChild('reply', NS.REPLY);
  if (reply && !reply.attrs.id) throw new CodecError('XEP-0461 <reply/> without id');
  const body = el.getChild('body');
  const subject = el.getChild('subject');
  const item = el.getChild('x', NS.MUC_USER)?.getChild('item');
  return {
    room,
    nick: resourceOf(from),
    to: el.attrs.to ?? '',
    id: nonEmpty(el.attrs.id),
    originId: nonEmpty(el.getChild('origin-id', NS.SID)?.attrs.id),
    stanzaId: stanzaId?.attrs.id,
    occupantId: nonEmpty(el.getChild('occupant-id', NS.OCCUPANT_ID)?.attrs.id),
    body: body ? body.getText() : undefined,
    subject: subject ? subject.getText() : undefined,
    delayedAt: parseDelay(el),
    replaceId: replace?.attrs.id,
    retract: parseRetract(el),
    reactions: parseReactions(el),
    displayed: nonEmpty(el.getChild('displayed', NS.CHAT_MARKERS)?.attrs.id),
    reply: reply ? { to: nonEmpty(reply.attrs.to), id: reply.attrs.id! } : undefined,
    fallbacks: parseFallbacks(el),
    files: parseFiles(el),
    references: parseReferences(el),
    realJid: item?.attrs.jid ? bare(item.attrs.jid) : undefined,
    nickHint: nonEmpty(el.getChildText('nick', NS.NICK)),
  };
}

/** The code point ranges `[start, end)` of a body that the fallbacks `for` one of `namespaces` cover (XEP-0428), sorted. */
export function fallbackRanges(
  fallbacks: readonly FallbackRange[],
  namespaces: readonly string[],
): (readonly [number, number])[] {
  return fallbacks
    .filter((f) => namespaces.includes(f.for) && f.start !== undefined && f.end !== undefined)
    .map((f) => [f.start!, f.end!] as const)
    .sort((a, b) => a[0] - b[0]);
}

/** Remove the code point ranges of `body` that the fallbacks `for` one of `namespaces` cover (XEP-0428). */
export function stripFallback(
  body: string,
  fallbacks: readonly FallbackRange[],
  namespaces: readonly string[],
): string {
  const ranges = fallbackRanges(fallbacks, namespaces);
  if (ranges.length === 0) return body;
  const cps = [...body];
  const keep: string[] = [];
  for (let i = 0; i < cps.length; i++) {
    if (!ranges.some(([s, e]) => i >= s && i < e)) keep.push(cps[i]!);
  }
  return keep.join('');
}
