/**
 * What differs between the two ways the bridge sits in XMPP, behind one interface: the bridge
 * asks its mode instead of testing `mode === ...`.
 *
 *  - component (XEP-0114, component.mode.ts): every MIMI user is a puppet JID on the component
 *    domain and an occupant of its own; the bot `mimibot@<component>` listens and moderates.
 *  - relay (a client account, relay.mode.ts): that one occupant listens, moderates and posts MIMI
 *    users' messages as "<Name>: text"; MIMI users have no address of their own.
 *
 * `puppets` is an optional capability, as in mautrix bridgev2's network connectors: present when
 * MIMI users are occupants of their own (component), absent in relay mode.
 */
import type { MessageAction, RemoteUser } from '../../../src/ports';
import type { ParsedGroupchat } from '../protocol/stanzas';
import type { RoomRuntime } from '../state/muc-room';

/** The per-user addresses of MIMI users (component mode). */
export interface PuppetAddresses {
  /** The puppet's full JID, `from` of its stanzas. */
  fullJid(userUri: string): string;
  /** The puppet's bare JID (what affiliations name). */
  bareJid(userUri: string): string;
  /**
   * The MIMI user behind a JID on the puppet domain (`userUri` undefined when the local part is not
   * a puppet's); undefined for any other JID.
   */
  userOf(jid: string): { readonly userUri?: RemoteUser['userUri'] } | undefined;
  /** The MIMI user a mediated invitation addressed `to` is for, when `to` is one of our puppets. */
  invited(to: string): RemoteUser['userUri'] | undefined;
}

/** Who a groupchat message is from, as far as our own users go (see XmppMode.senderOf). */
export interface SenderLookups {
  /** The owner ('' for the bot, a userUri for a puppet) of an occupant, from the room's data. */
  ownerOf(r: RoomRuntime, o: { nick: string; realJid?: string }): string | undefined;
  /** The MIMI user of a post still waiting for its reflection. */
  pendingAuthor(originId: string): RemoteUser | undefined;
}

export type Sender = RemoteUser | 'bot' | 'native';

export interface XmppMode {
  readonly name: 'component' | 'relay';
  /** XEP-0030 identity category of our entities. */
  readonly discoCategory: 'gateway' | 'client';
  /** The server's default stanza size limit for this kind of stream. */
  readonly defaultMaxStanzaBytes: number;
  /** In relay mode all MIMI users share one occupant: its reactions are the union of theirs. */
  readonly sharedOccupant: boolean;
  /** Capability: MIMI users as occupants of their own (component mode only). */
  readonly puppets?: PuppetAddresses;

  botBareJid(): string;
  /** `from` of the bot's stanzas: its full JID on the component; omitted on a client stream. */
  botFrom(): string | undefined;
  /** Whether a stanza addressed `to` is the bot's copy (in relay mode the only copy). */
  isBotAddress(to: string): boolean;
  /** Whether `userId` is one of ours; `botOccupants` are the bot's `room/nick` JIDs. */
  isOwnUser(userId: string, botOccupants: Iterable<string>): boolean;
  /** `from` and the relay author name of a MIMI user's post. */
  postSender(as: RemoteUser): { readonly from?: string; readonly author?: string };
  /** Our user a groupchat message is from: a MIMI user (an echo), the bot, or 'native'. */
  senderOf(r: RoomRuntime, p: ParsedGroupchat, lookups: SenderLookups): Sender;
  /** The action of an echo of a MIMI user's post as the core knows it (relay: without "Name: "). */
  echoAction(action: MessageAction, echoUser: RemoteUser): MessageAction;
}
