/**
 * IQ stanzas: muc#admin (XEP-0045 §9–§10), muc#owner configuration, XEP-0199 ping, XEP-0030
 * disco#info, XEP-0313 archive queries, and the parsing of their results.
 */
import { CodecError } from '../../../../src/common/errors';
import { bare } from '../jids';
import { asAffiliation, type MucAffiliation, type MucRole } from '../muc-roles';
import { NS } from '../namespaces';
import { xml, type XmlElement } from '../xml';
import { nonEmpty, parseDelay, text } from './values';

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
