/** What both modes do to find which of our users wrote a groupchat message (XmppMode.senderOf). */
import type { UserUri } from '../../../src/common/ids';
import type { RemoteUser } from '../../../src/ports';
import type { ParsedGroupchat } from '../protocol/stanzas';
import type { RoomRuntime } from '../state/muc-room';
import type { SenderLookups } from './xmpp-mode';

/** The owner ('' bot, userUri puppet) of the message's occupant: occupant list, occupant-id, real JID. */
export function ownerFromRoom(r: RoomRuntime, p: ParsedGroupchat, lookups: SenderLookups): string | undefined {
  const occupant = r.occupants.get(p.nick);
  let own = occupant?.own;
  if (own === undefined && p.occupantId !== undefined) own = r.state.ownOccupantIds[p.occupantId];
  if (own === undefined && p.realJid !== undefined) own = lookups.ownerOf(r, { nick: p.nick, realJid: p.realJid });
  return own;
}

/** The RemoteUser of one of our puppets in `r`. */
export function puppetUser(r: RoomRuntime, own: string): RemoteUser {
  const puppet = r.puppets.get(own);
  return { userUri: own as UserUri, displayName: puppet?.user.displayName };
}
