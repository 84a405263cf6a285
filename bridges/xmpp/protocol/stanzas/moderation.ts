/**
 * XEP-0425 Message Moderation: a moderator retracts someone else's message in a MUC. Two
 * versions are in use: 0.2 (`urn:xmpp:message-moderate:0`, a XEP-0422 fastening; Debian's
 * prosody-modules `mod_muc_moderation`) and 0.3+/1.0 (`urn:xmpp:message-moderate:1`).
 *
 *   request   <iq type='set' to='room'><moderate xmlns='…:1' id='stanza-id'><retract xmlns='urn:xmpp:message-retract:1'/><reason/></moderate></iq>
 *             <iq type='set' to='room'><apply-to xmlns='urn:xmpp:fasten:0' id='stanza-id'><moderate xmlns='…:0'><retract xmlns='urn:xmpp:message-retract:0'/><reason/></moderate></apply-to></iq>
 *   announced <message from='room' type='groupchat'><retract xmlns='urn:xmpp:message-retract:1' id='stanza-id'><moderated xmlns='…:1' by='room/nick'/><reason/></retract></message>
 *             <message from='room' type='groupchat'><apply-to xmlns='urn:xmpp:fasten:0' id='stanza-id'><moderated xmlns='…:0' by='room/nick'><retract xmlns='urn:xmpp:message-retract:0'/><reason/></moderated></apply-to></message>
 */
import { NS } from '../namespaces';
import { xml, type XmlElement } from '../xml';
import { nonEmpty, text } from './values';

export type ModerationVersion = 0 | 1;

/** The moderation version a room's disco#info features announce (the newest), if any. */
export function moderationVersionOf(features: readonly string[]): ModerationVersion | undefined {
  if (features.includes(NS.MODERATE)) return 1;
  if (features.includes(NS.MODERATE_0)) return 0;
  return undefined;
}

/** A moderator's request to retract the message with MUC stanza-id `stanzaId` (XEP-0425 §4). */
export function buildModerateRetract(p: {
  from?: string;
  to: string;
  id: string;
  stanzaId: string;
  reason?: string;
  version: ModerationVersion;
}): XmlElement {
  const reason = p.reason !== undefined ? xml('reason', {}, text(p.reason)) : undefined;
  const moderate =
    p.version === 1
      ? xml('moderate', { xmlns: NS.MODERATE, id: text(p.stanzaId) }, xml('retract', { xmlns: NS.RETRACT }), reason)
      : xml(
          'apply-to',
          { xmlns: NS.FASTEN, id: text(p.stanzaId) },
          xml('moderate', { xmlns: NS.MODERATE_0 }, xml('retract', { xmlns: NS.RETRACT_0 }), reason),
        );
  return xml('iq', { from: p.from, to: p.to, type: 'set', id: p.id }, moderate);
}

/** A moderation the room announced: the message retracted, and the moderator's occupant JID (`room/nick`). */
export interface ParsedModeration {
  readonly stanzaId: string;
  readonly by?: string;
  readonly reason?: string;
}

/** The moderation a groupchat message from the room itself announces, if it is one. */
export function parseModeration(el: XmlElement): ParsedModeration | undefined {
  const retract = el.getChild('retract', NS.RETRACT);
  const moderated1 = retract?.getChild('moderated', NS.MODERATE);
  if (retract?.attrs.id && moderated1) {
    return {
      stanzaId: retract.attrs.id,
      by: nonEmpty(moderated1.attrs.by),
      reason: nonEmpty(retract.getChildText('reason')),
    };
  }
  const applyTo = el.getChild('apply-to', NS.FASTEN);
  const moderated0 = applyTo?.getChild('moderated', NS.MODERATE_0);
  if (applyTo?.attrs.id && moderated0?.getChild('retract', NS.RETRACT_0)) {
    return {
      stanzaId: applyTo.attrs.id,
      by: nonEmpty(moderated0.attrs.by),
      reason: nonEmpty(moderated0.getChildText('reason')),
    };
  }
  return undefined;
}
