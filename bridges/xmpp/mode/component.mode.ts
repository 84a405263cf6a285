/** Component mode (XEP-0114): one puppet JID per MIMI user on the component domain. */
import type { MessageAction, RemoteUser } from '../../../src/ports';
import { bare, parseJid } from '../protocol/jids';
import { BOT_LOCALPART, COMPONENT_RESOURCE, puppetJid, userUriOfPuppetLocalpart } from '../protocol/puppet-jid';
import type { ParsedGroupchat } from '../protocol/stanzas';
import type { RoomRuntime } from '../state/muc-room';
import { ownerFromRoom, puppetUser } from './own-sender';
import type { PuppetAddresses, Sender, SenderLookups, XmppMode } from './xmpp-mode';

/** Prosody 0.12's default `component_stanza_size_limit` (= s2s): 512 KiB. */
const PROSODY_COMPONENT_STANZA_LIMIT = 512 * 1024;

class ComponentPuppets implements PuppetAddresses {
  constructor(private readonly domain: string) {}

  fullJid(userUri: string): string {
    return `${puppetJid(userUri, this.domain)}/${COMPONENT_RESOURCE}`;
  }

  bareJid(userUri: string): string {
    return puppetJid(userUri, this.domain);
  }

  userOf(jid: string): { readonly userUri?: RemoteUser['userUri'] } | undefined {
    const { local, domain } = parseJid(jid);
    return domain === this.domain ? { userUri: userUriOfPuppetLocalpart(local) } : undefined;
  }

  invited(to: string): RemoteUser['userUri'] | undefined {
    const { local, domain } = parseJid(to);
    return domain === this.domain.toLowerCase() ? userUriOfPuppetLocalpart(local) : undefined;
  }
}

export class ComponentMode implements XmppMode {
  readonly name = 'component';
  readonly discoCategory = 'gateway';
  readonly defaultMaxStanzaBytes = PROSODY_COMPONENT_STANZA_LIMIT;
  readonly sharedOccupant = false;
  readonly puppets: PuppetAddresses;

  constructor(private readonly domain: string | undefined) {
    if (!domain) throw new Error('XmppBridge: component mode needs componentDomain');
    this.puppets = new ComponentPuppets(domain);
  }

  botBareJid(): string {
    return `${BOT_LOCALPART}@${this.domain!}`;
  }

  botFrom(): string | undefined {
    return `${this.botBareJid()}/${COMPONENT_RESOURCE}`;
  }

  isBotAddress(to: string): boolean {
    return bare(to) === this.botBareJid();
  }

  isOwnUser(userId: string): boolean {
    return parseJid(userId).domain === this.domain!.toLowerCase();
  }

  postSender(as: RemoteUser): { from?: string; author?: string } {
    return { from: this.puppets.fullJid(as.userUri) };
  }

  /** The bot's nick and our puppets are ours; a post seen before (journal) names its author. */
  senderOf(r: RoomRuntime, p: ParsedGroupchat, lookups: SenderLookups): Sender {
    if (p.nick === r.botNick) return 'bot';
    let own = ownerFromRoom(r, p, lookups);
    if (own === undefined && p.originId !== undefined) {
      // A post of ours seen again (archive replay): the very message, not a native's copy of its origin-id.
      const posted = r.state.posted[p.originId];
      if (posted !== undefined && posted.stanzaId === p.stanzaId) own = posted.userUri;
    }
    if (own === '') return 'bot';
    if (own !== undefined) return puppetUser(r, own);
    return 'native';
  }

  echoAction(action: MessageAction): MessageAction {
    return action;
  }
}
