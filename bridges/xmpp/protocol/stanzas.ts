/**
 * Stanza builders and parsers of the XMPP bridge: pure functions from plain values to ltx elements
 * and back, with no connection state, so each is tested against exact XML (stanzas.spec.ts).
 * Builders clean every text and attribute with xmlSafeText (one illegal character ends the stream).
 * Parsers throw CodecError for a stanza that breaks a rule they rely on; the bridge logs it and
 * goes on with the next stanza.
 */
import { CodecError } from '../../../src/common/errors';
import { bare, resourceOf } from './jids';
import { asAffiliation, asRole, type MucAffiliation, type MucRole } from './muc-roles';
import { NS } from './namespaces';
import { xml, type XmlElement, xmlSafeText } from './xml';

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
  /** XEP-0334 store hint: without a body, Prosody archives (and stamps a stanza-id on) only hinted messages. */
  readonly store?: boolean;
}

/** Body a client without XEP-0424 shows for a retraction (XEP-0424 §4 recommends a fallback body). */
export const RETRACTION_FALLBACK_BODY = '/me retracted a message (your client does not show retractions)';

function text(s: string): string {
  return xmlSafeText(s);
}

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

// ---------------------------------------------------------------------------------------------
// Presence

/** Enter a MUC as `occupantJid` (room@service/nick), asking for no history (XEP-0045 §7.2, §7.2.14). */
export function buildMucJoin(p: { from?: string; to: string; password?: string }): XmlElement {
  return xml(
    'presence',
    { from: p.from, to: p.to },
    xml(
      'x',
      { xmlns: NS.MUC },
      xml('history', { maxstanzas: '0' }),
      p.password !== undefined ? xml('password', {}, text(p.password)) : undefined,
    ),
  );
}

/** Change nick (XEP-0045 §7.6): available presence to the new occupant JID, without the MUC element. */
export function buildNickChange(p: { from?: string; to: string }): XmlElement {
  return xml('presence', { from: p.from, to: p.to });
}

/** Leave a MUC (XEP-0045 §7.14). */
export function buildMucLeave(p: { from?: string; to: string; status?: string }): XmlElement {
  return xml(
    'presence',
    { from: p.from, to: p.to, type: 'unavailable' },
    p.status !== undefined ? xml('status', {}, text(p.status)) : undefined,
  );
}

// ---------------------------------------------------------------------------------------------
// IQs

export interface AdminItem {
  readonly nick?: string;
  readonly jid?: string;
  readonly role?: MucRole;
  readonly affiliation?: MucAffiliation;
  readonly reason?: string;
}

/** A muc#admin change: kick (role none, §8.2), ban (outcast, §9.1), grant/revoke (§9–§10). */
export function buildAdminSet(p: { from?: string; to: string; id: string; items: readonly AdminItem[] }): XmlElement {
  return xml(
    'iq',
    { from: p.from, to: p.to, type: 'set', id: p.id },
    xml(
      'query',
      { xmlns: NS.MUC_ADMIN },
      p.items.map((i) =>
        xml(
          'item',
          {
            nick: i.nick && text(i.nick),
            jid: i.jid && text(i.jid),
            role: i.role,
            affiliation: i.affiliation,
          },
          i.reason !== undefined ? xml('reason', {}, text(i.reason)) : undefined,
        ),
      ),
    ),
  );
}

/** Ask the list of users with one affiliation (XEP-0045 §9.2, §9.5, §10.5, §10.8). */
export function buildAdminListGet(p: {
  from?: string;
  to: string;
  id: string;
  affiliation: MucAffiliation;
}): XmlElement {
  return xml(
    'iq',
    { from: p.from, to: p.to, type: 'get', id: p.id },
    xml('query', { xmlns: NS.MUC_ADMIN }, xml('item', { affiliation: p.affiliation })),
  );
}

/** XEP-0410 MUC self-ping: an XEP-0199 ping to our own occupant JID. */
export function buildPing(p: { from?: string; to: string; id: string }): XmlElement {
  return xml('iq', { from: p.from, to: p.to, type: 'get', id: p.id }, xml('ping', { xmlns: NS.PING }));
}

export function buildDiscoInfoGet(p: { from?: string; to: string; id: string }): XmlElement {
  return xml('iq', { from: p.from, to: p.to, type: 'get', id: p.id }, xml('query', { xmlns: NS.DISCO_INFO }));
}

/**
 * XEP-0313 query of a MUC archive. `after` pages forward from a stanza-id (XEP-0059 §2.2);
 * `before: ''` asks for the last page (§2.5); `start` bounds by time.
 */
export function buildMamQuery(p: {
  from?: string;
  to: string;
  id: string;
  queryId: string;
  max: number;
  after?: string;
  before?: string;
  start?: Date;
}): XmlElement {
  const fields: XmlElement[] = [xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS.MAM))];
  if (p.start) fields.push(xml('field', { var: 'start' }, xml('value', {}, p.start.toISOString())));
  return xml(
    'iq',
    { from: p.from, to: p.to, type: 'set', id: p.id },
    xml(
      'query',
      { xmlns: NS.MAM, queryid: p.queryId },
      xml('x', { xmlns: NS.DATA, type: 'submit' }, fields),
      xml(
        'set',
        { xmlns: NS.RSM },
        xml('max', {}, String(p.max)),
        p.after !== undefined ? xml('after', {}, text(p.after)) : undefined,
        p.before !== undefined ? xml('before', {}, text(p.before)) : undefined,
      ),
    ),
  );
}

/** Ask a room's configuration form (XEP-0045 §10.2). */
export function buildOwnerConfigGet(p: { from?: string; to: string; id: string }): XmlElement {
  return xml('iq', { from: p.from, to: p.to, type: 'get', id: p.id }, xml('query', { xmlns: NS.MUC_OWNER }));
}

/** Submit a room configuration (XEP-0045 §10.2; an empty form accepts the defaults, §10.1.2). */
export function buildOwnerConfigSubmit(p: {
  from?: string;
  to: string;
  id: string;
  fields: Readonly<Record<string, string | readonly string[]>>;
}): XmlElement {
  const fields = Object.entries(p.fields).map(([name, value]) =>
    xml(
      'field',
      { var: name },
      (typeof value === 'string' ? [value] : value).map((v) => xml('value', {}, text(v))),
    ),
  );
  return xml(
    'iq',
    { from: p.from, to: p.to, type: 'set', id: p.id },
    xml(
      'query',
      { xmlns: NS.MUC_OWNER },
      xml(
        'x',
        { xmlns: NS.DATA, type: 'submit' },
        xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#roomconfig')),
        fields,
      ),
    ),
  );
}

/** A reply of type result to an IQ request, with an optional payload (RFC 6120 §8.2.3). */
export function buildIqResult(request: XmlElement, payload?: XmlElement): XmlElement {
  return xml('iq', { from: request.attrs.to, to: request.attrs.from, type: 'result', id: request.attrs.id }, payload);
}

/** An RFC 6120 §8.3 error element: `<error type><condition xmlns=stanzas/><text/></error>`. */
export function buildErrorElement(type: StanzaErrorType, condition: string, message?: string): XmlElement {
  return xml(
    'error',
    { type },
    xml(condition, { xmlns: NS.STANZAS }),
    message !== undefined ? xml('text', { xmlns: NS.STANZAS }, text(message)) : undefined,
  );
}

/**
 * The error reply to a stanza (RFC 6120 §8.3.1): addresses swapped, same id, type error. Never
 * sent for groupchat messages or MUC presence: a MUC removes an occupant that bounces errors.
 */
export function buildErrorReply(
  request: XmlElement,
  type: StanzaErrorType,
  condition: string,
  message?: string,
): XmlElement {
  return xml(
    request.name,
    { from: request.attrs.to, to: request.attrs.from, type: 'error', id: request.attrs.id },
    buildErrorElement(type, condition, message),
  );
}

// ---------------------------------------------------------------------------------------------
// Parsing

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

export interface StanzaErrorInfo {
  readonly type: string;
  readonly condition: string;
  readonly text?: string;
}

/** The RFC 6120 §8.3 error carried by a stanza of type error, or undefined. */
export function parseStanzaError(el: XmlElement): StanzaErrorInfo | undefined {
  if (el.attrs.type !== 'error') return undefined;
  const err = el.getChild('error');
  if (!err) return { type: 'cancel', condition: 'undefined-condition' };
  const condition = err.getChildElements().find((c) => c.attrs.xmlns === NS.STANZAS && c.name !== 'text');
  const message = err.getChildText('text', NS.STANZAS);
  return {
    type: err.attrs.type ?? 'cancel',
    condition: condition?.name ?? 'undefined-condition',
    text: message ?? undefined,
  };
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
  readonly reply?: { readonly to?: string; readonly id: string };
  readonly fallbacks: readonly FallbackRange[];
  readonly files: readonly FileRef[];
  /** Real JID of the sender, when the MUC discloses it (archived messages of non-anonymous rooms). */
  readonly realJid?: string;
  readonly nickHint?: string;
}

/** Longest reaction accepted, in code points (an emoji with modifiers and joiners). */
export const MAX_REACTION_CODEPOINTS = 32;
/** Most reactions one sender may put on one message. */
export const MAX_REACTIONS = 32;

function parseDelay(el: XmlElement): number | undefined {
  const stamp = el.getChild('delay', NS.DELAY)?.attrs.stamp;
  if (stamp === undefined) return undefined;
  const t = Date.parse(stamp);
  return Number.isNaN(t) ? undefined : t;
}

function nonEmpty(s: string | undefined | null): string | undefined {
  return s === undefined || s === null || s === '' ? undefined : s;
}

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
    reply: reply ? { to: nonEmpty(reply.attrs.to), id: reply.attrs.id! } : undefined,
    fallbacks: parseFallbacks(el),
    files: parseFiles(el),
    realJid: item?.attrs.jid ? bare(item.attrs.jid) : undefined,
    nickHint: nonEmpty(el.getChildText('nick', NS.NICK)),
  };
}

/** Remove the code point ranges of `body` that the fallbacks `for` one of `namespaces` cover (XEP-0428). */
export function stripFallback(
  body: string,
  fallbacks: readonly FallbackRange[],
  namespaces: readonly string[],
): string {
  const ranges = fallbacks
    .filter((f) => namespaces.includes(f.for) && f.start !== undefined && f.end !== undefined)
    .map((f) => [f.start!, f.end!] as const)
    .sort((a, b) => a[0] - b[0]);
  if (ranges.length === 0) return body;
  const cps = [...body];
  const keep: string[] = [];
  for (let i = 0; i < cps.length; i++) {
    if (!ranges.some(([s, e]) => i >= s && i < e)) keep.push(cps[i]!);
  }
  return keep.join('');
}

export interface ParsedMucPresence {
  readonly room: string;
  readonly nick: string;
  readonly to: string;
  readonly type: 'available' | 'unavailable' | 'error';
  readonly affiliation?: MucAffiliation;
  readonly role?: MucRole;
  /** Real bare JID of the occupant, when disclosed to us (non-anonymous room, or we moderate). */
  readonly realJid?: string;
  /** New nick on a nick change (status 303). */
  readonly newNick?: string;
  readonly actorNick?: string;
  readonly actorJid?: string;
  readonly reason?: string;
  readonly statusCodes: readonly number[];
  readonly occupantId?: string;
  readonly error?: StanzaErrorInfo;
  /** The room was destroyed (XEP-0045 §10.9). */
  readonly destroyed: boolean;
}

/** XEP-0045 status codes (§15.6.2) the bridge acts on. */
export const MUC_STATUS = {
  NON_ANONYMOUS: 100,
  SELF: 110,
  ROOM_CREATED: 201,
  NICK_ASSIGNED: 210,
  BANNED: 301,
  NICK_CHANGED: 303,
  KICKED: 307,
  AFFILIATION_CHANGED: 321,
  MEMBERS_ONLY: 322,
  SHUTDOWN: 332,
  ERROR_KICK: 333,
} as const;

/**
 * Read a presence from a MUC occupant JID (room@service/nick).
 * @throws CodecError when it does not come from an occupant JID
 */
export function parseMucPresence(el: XmlElement): ParsedMucPresence {
  if (el.name !== 'presence') throw new CodecError(`not a presence: <${el.name}>`);
  const from = el.attrs.from;
  if (!from || !from.includes('@')) throw new CodecError('MUC presence without an occupant from');
  const type = el.attrs.type === 'unavailable' ? 'unavailable' : el.attrs.type === 'error' ? 'error' : 'available';
  if (el.attrs.type !== undefined && type === 'available') {
    throw new CodecError(`not an occupant presence: type '${el.attrs.type}'`);
  }
  const x = el.getChild('x', NS.MUC_USER);
  const item = x?.getChild('item');
  const actor = item?.getChild('actor');
  const statusCodes = (x?.getChildren('status') ?? [])
    .map((s) => Number(s.attrs.code))
    .filter((n) => Number.isInteger(n));
  return {
    room: bare(from),
    nick: resourceOf(from),
    to: el.attrs.to ?? '',
    type,
    affiliation: asAffiliation(item?.attrs.affiliation),
    role: asRole(item?.attrs.role),
    realJid: item?.attrs.jid ? bare(item.attrs.jid) : undefined,
    newNick: nonEmpty(item?.attrs.nick),
    actorNick: nonEmpty(actor?.attrs.nick),
    actorJid: actor?.attrs.jid ? bare(actor.attrs.jid) : undefined,
    reason: nonEmpty(item?.getChildText('reason')),
    statusCodes,
    occupantId: nonEmpty(el.getChild('occupant-id', NS.OCCUPANT_ID)?.attrs.id),
    error: parseStanzaError(el),
    destroyed: x?.getChild('destroy') !== undefined,
  };
}

export interface ParsedMamResult {
  readonly queryId: string;
  /** The archive id: the MUC's stanza-id of the message. */
  readonly archiveId: string;
  readonly stamp?: number;
  readonly message: XmlElement;
}

/** A XEP-0313 result message (§4.2), or undefined when `el` is not one. */
export function parseMamResult(el: XmlElement): ParsedMamResult | undefined {
  if (el.name !== 'message') return undefined;
  const result = el.getChild('result', NS.MAM);
  if (!result) return undefined;
  const forwarded = result.getChild('forwarded', NS.FORWARD);
  const message = forwarded?.getChild('message');
  if (!result.attrs.id || !message) throw new CodecError('MAM result without id or forwarded message');
  return {
    queryId: result.attrs.queryid ?? '',
    archiveId: result.attrs.id,
    stamp: forwarded ? parseDelay(forwarded) : undefined,
    message,
  };
}

/** The `<fin/>` of a XEP-0313 query result IQ (§4.3): whether the page was the last, and its bounds. */
export function parseMamFin(iq: XmlElement): { complete: boolean; first?: string; last?: string } {
  const fin = iq.getChild('fin', NS.MAM);
  if (!fin) throw new CodecError('MAM result IQ without <fin/>');
  const set = fin.getChild('set', NS.RSM);
  return {
    complete: fin.attrs.complete === 'true',
    first: nonEmpty(set?.getChildText('first')),
    last: nonEmpty(set?.getChildText('last')),
  };
}

/** Identities and features of a disco#info result (XEP-0030 §3.1), plus the form fields (XEP-0128). */
export function parseDiscoInfo(iq: XmlElement): {
  identities: { category?: string; type?: string; name?: string }[];
  features: string[];
  fields: Record<string, string>;
} {
  const q = iq.getChild('query', NS.DISCO_INFO);
  if (!q) throw new CodecError('disco#info result without query');
  const fields: Record<string, string> = {};
  for (const f of q.getChild('x', NS.DATA)?.getChildren('field') ?? []) {
    if (f.attrs.var) fields[f.attrs.var] = f.getChildText('value') ?? '';
  }
  return {
    identities: q.getChildren('identity').map((i) => ({
      category: i.attrs.category,
      type: i.attrs.type,
      name: i.attrs.name,
    })),
    features: q
      .getChildren('feature')
      .map((f) => f.attrs.var)
      .filter((v): v is string => v !== undefined),
    fields,
  };
}

/** Items of a muc#admin list result (XEP-0045 §9.2). */
export function parseAdminList(iq: XmlElement): { jid: string; affiliation?: MucAffiliation; nick?: string }[] {
  const q = iq.getChild('query', NS.MUC_ADMIN);
  if (!q) return [];
  return q
    .getChildren('item')
    .filter((i) => i.attrs.jid)
    .map((i) => ({
      jid: bare(i.attrs.jid!),
      affiliation: asAffiliation(i.attrs.affiliation),
      nick: nonEmpty(i.attrs.nick),
    }));
}
