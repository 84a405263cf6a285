/** Relay mode: one client account speaks for every MIMI user ("Dave: hello", XEP-0172 nick). */
import type { UserUri } from '../../../src/common/ids';
import type { MessageAction, RemoteUser } from '../../../src/ports';
import { stripRelayPrefix } from '../content/message-mapping';
import { bare } from '../protocol/jids';
import { userUriLocalName } from '../protocol/puppet-jid';
import type { ParsedGroupchat } from '../protocol/stanzas';
import type { XmppTransport } from '../session/xmpp-transport';
import type { RoomRuntime } from '../state/muc-room';
import { ownerFromRoom, puppetUser } from './own-sender';
import type { Sender, SenderLookups, XmppMode } from './xmpp-mode';

/** Prosody 0.12's default `c2s_stanza_size_limit`: 256 KiB. */
const PROSODY_C2S_STANZA_LIMIT = 256 * 1024;

export class RelayMode implements XmppMode {
  readonly name = 'relay';
  readonly discoCategory = 'client';
  readonly defaultMaxStanzaBytes = PROSODY_C2S_STANZA_LIMIT;
  readonly sharedOccupant = true;
  readonly puppets = undefined;

  constructor(private readonly transport: XmppTransport) {}

  botBareJid(): string {
    return bare(this.transport.address ?? '');
  }

  botFrom(): string | undefined {
    return undefined;
  }

  isBotAddress(): boolean {
    return true;
  }

  isOwnUser(userId: string, botOccupants: Iterable<string>): boolean {
    const address = this.transport.address;
    if (address !== undefined && bare(userId) === bare(address)) return true;
    return [...botOccupants].includes(userId);
  }

  postSender(as: RemoteUser): { from?: string; author?: string } {
    return { author: as.displayName ?? userUriLocalName(as.userUri) };
  }

  /** A message from our own account is a MIMI user's post (by origin-id) or our own notice. */
  senderOf(r: RoomRuntime, p: ParsedGroupchat, lookups: SenderLookups): Sender {
    const own = ownerFromRoom(r, p, lookups);
    if (own === '') return this.echoOf(r, p, lookups);
    if (own !== undefined) return puppetUser(r, own);
    if (p.nick === r.botNick) return this.echoOf(r, p, lookups);
    return 'native';
  }

  echoAction(action: MessageAction, echoUser: RemoteUser): MessageAction {
    if (action.type !== 'post' && action.type !== 'edit') return action;
    const author = echoUser.displayName ?? userUriLocalName(echoUser.userUri);
    return { ...action, body: { ...action.body, ...stripRelayPrefix(action.body.text, author) } };
  }

  private echoOf(r: RoomRuntime, p: ParsedGroupchat, lookups: SenderLookups): RemoteUser | 'bot' {
    const pending = p.originId !== undefined ? lookups.pendingAuthor(p.originId) : undefined;
    if (pending) return pending;
    const posted = p.originId !== undefined ? r.state.posted[p.originId] : undefined;
    if (posted?.userUri) return { userUri: posted.userUri as UserUri, displayName: p.nickHint };
    return 'bot';
  }
}
