/**
 * Who the people mentioned in a MUC are (content/mentions.ts does the text): an occupant's nick
 * ↔ a MIMI user URI. Our puppets are the MIMI users they stand for; a native occupant is the URI
 * the core gives that XMPP user (`NativeUsers`, from the core's identity mapping); the bot is
 * nobody.
 */
import { Platform } from '../../../src/common/ids';
import type { MentionLookup } from '../content/mentions';
import type { OccupantIdentity, PortUser } from './occupant-identity';
import type { RoomRuntime } from '../state/muc-room';

/** Native XMPP users (a real bare JID, or `room@service/nick` where the JID is hidden) ↔ MIMI user URIs. */
export interface NativeUsers {
  userUriOf(userId: string): string | undefined;
  /** The native user behind a URI of this provider, or undefined (another provider's, a MIMI user). */
  userIdOf(userUri: string): string | undefined;
}

export class MentionDirectory {
  constructor(
    private readonly identity: OccupantIdentity,
    private readonly natives?: NativeUsers,
  ) {}

  /** Nicks and JIDs of room `r` → user URIs, for reading mentions. */
  lookup(r: RoomRuntime): MentionLookup {
    return {
      byNick: (nick) => {
        const o = r.occupants.get(nick);
        return o === undefined || o.own === '' ? undefined : this.uriOf(this.identity.occupantUser(r, o));
      },
      byJid: (jid) => (this.identity.isBotJid(jid) ? undefined : this.uriOf(this.identity.userOfJid(jid))),
      nicks: () => [...r.occupants.values()].filter((o) => o.own !== '').map((o) => o.nick),
    };
  }

  /** The nick `userUri` has in room `r` now, if they are an occupant (a joined puppet, a native occupant). */
  nickOf(r: RoomRuntime, userUri: string): string | undefined {
    const puppet = r.puppets.get(userUri);
    if (puppet !== undefined) return puppet.joined ? puppet.nick : undefined;
    const userId = this.natives?.userIdOf(userUri);
    if (userId === undefined) return undefined;
    const nick = this.identity.resolveTarget(r, { platform: Platform.Xmpp, userId })?.nick;
    return nick !== undefined && r.occupants.has(nick) ? nick : undefined;
  }

  private uriOf(user: PortUser): string | undefined {
    return 'userUri' in user ? user.userUri : this.natives?.userUriOf(user.userId);
  }
}
