/** MUC presences (XEP-0045 §7.2 join, §7.6 nick change, §7.14 leave) and their parsing. */
import { CodecError } from '../../../../src/common/errors';
import { bare, resourceOf } from '../jids';
import { asAffiliation, asRole, type MucAffiliation, type MucRole } from '../muc-roles';
import { NS } from '../namespaces';
import { xml, type XmlElement } from '../xml';
import { parseStanzaError, type StanzaErrorInfo } from './error';
import { nonEmpty, text } from './values';

// ---------------------------------------------------------------------------------------------
// Presence

/** Enter a MUC as `occupantJid` (room@service/nick), asking for no history (XEP-0045 §7.2, §7.2.14). */
export function buildMucJoin(p: { from?: string; to: string; password?: string; extra?: XmlElement[] }): XmlElement {
  return xml(
    'presence',
    { from: p.from, to: p.to },
    ...(p.extra ?? []),
    xml(
      'x',
      { xmlns: NS.MUC },
      xml('history', { maxstanzas: '0' }),
      p.password !== undefined ? xml('password', {}, text(p.password)) : undefined,
    ),
  );
}

/** Change nick (XEP-0045 §7.6): available presence to the new occupant JID, without the MUC element. */
export function buildNickChange(p: { from?: string; to: string; extra?: XmlElement[] }): XmlElement {
  return xml('presence', { from: p.from, to: p.to }, ...(p.extra ?? []));
}

/** Leave a MUC (XEP-0045 §7.14). */
export function buildMucLeave(p: { from?: string; to: string; status?: string }): XmlElement {
  return xml(
    'presence',
    { from: p.from, to: p.to, type: 'unavailable' },
    p.status !== undefined ? xml('status', {}, text(p.status)) : undefined,
  );
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
