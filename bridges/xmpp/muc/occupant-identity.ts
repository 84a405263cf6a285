/**
 * Who an occupant or a JID is, in the port's words: one of our MIMI users (a RemoteUser, by puppet
 * JID, occupant-id or expected nick), the bot (''), or a native XMPP user (a LegacyUserRef whose
 * userId is the real bare JID when the bot can see it, else `room@service/nick`).
 */
import { Platform, type UserUri } from '../../../src/common/ids';
import type { LegacyUserRef, RemoteUser } from '../../../src/ports';
import type { XmppMode } from '../mode/xmpp-mode';
import { bare, fullJid, resourceOf } from '../protocol/jids';
import type { Occupant, RoomRuntime } from '../state/muc-room';

export type PortUser = LegacyUserRef | RemoteUser;

/** The key the port identifies a user by. */
export function userKey(user: PortUser): string {
  return 'userUri' in user ? user.userUri : user.userId;
}

export class OccupantIdentity {
  constructor(private readonly mode: XmppMode) {}

  isBotJid(jid: string): boolean {
    return bare(jid) === this.mode.botBareJid();
  }

  /** Which of our users an occupant is (userUri, '' for the bot), from its real JID or occupant-id. */
  ownerOf(r: RoomRuntime, o: Pick<Occupant, 'nick' | 'realJid' | 'occupantId'>): string | undefined {
    const expected = r.expectedNicks.get(o.nick);
    if (expected !== undefined) return expected;
    if (o.realJid !== undefined) {
      if (this.isBotJid(o.realJid)) return '';
      const puppet = this.mode.puppets?.userOf(o.realJid);
      if (puppet) return puppet.userUri;
    }
    if (o.occupantId !== undefined) return r.state.ownOccupantIds[o.occupantId];
    for (const [userUri, p] of r.puppets) if (p.nick === o.nick && p.joined) return userUri;
    return undefined;
  }

  occupantUser(r: RoomRuntime, o: Occupant): PortUser {
    if (o.own) {
      const puppet = r.puppets.get(o.own);
      return { userUri: o.own as UserUri, displayName: puppet?.user.displayName };
    }
    return { platform: Platform.Xmpp, userId: o.realJid ?? fullJid(r.jid, o.nick), displayName: o.nick };
  }

  occupantUserByNick(r: RoomRuntime, nick: string): PortUser {
    const o = r.occupants.get(nick);
    return o ? this.occupantUser(r, o) : { platform: Platform.Xmpp, userId: fullJid(r.jid, nick), displayName: nick };
  }

  userOfJid(jid: string, nick?: string): PortUser {
    const userUri = this.mode.puppets?.userOf(jid)?.userUri;
    if (userUri) return { userUri };
    return { platform: Platform.Xmpp, userId: bare(jid), ...(nick ? { displayName: nick } : {}) };
  }

  /**
   * Nick and real JID of a port user in `r`, as far as known; undefined for a MIMI user who has no
   * occupant of their own (relay mode).
   */
  resolveTarget(r: RoomRuntime, user: PortUser): { nick?: string; jid?: string } | undefined {
    if ('userUri' in user) {
      const puppets = this.mode.puppets;
      if (!puppets) return undefined;
      return { nick: r.puppets.get(user.userUri)?.nick, jid: puppets.bareJid(user.userUri) };
    }
    const id = user.userId;
    if (bare(id) === r.jid) {
      const nick = resourceOf(id);
      return { nick, jid: r.occupants.get(nick)?.realJid };
    }
    const jid = bare(id);
    return { jid, nick: r.occupantByRealJid(jid)?.nick };
  }
}
