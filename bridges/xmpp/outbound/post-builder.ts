/**
 * The groupchat stanza for one port MessageAction: post (with reply fallback and attachments),
 * edit (XEP-0308), delete (XEP-0424), react / unreact (XEP-0444, the full set each time), read
 * (an XEP-0333 displayed marker).
 */
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import type { MessageAction, MessageBody, PostResult, RemoteUser } from '../../../src/ports';
import { markMentions, takeMentionMarks } from '../content/mentions';
import { composeBody, outboundText, partitionAttachments, replyFallback } from '../content/message-mapping';
import { OutboundReactionLedger } from '../content/reactions';
import type { XmppMode } from '../mode/xmpp-mode';
import type { MentionDirectory } from '../muc/mention-directory';
import type { MucRooms } from '../muc/rooms';
import { fullJid } from '../protocol/jids';
import { buildGroupchat, type OutboundGroupchat, type Reference, RETRACTION_FALLBACK_BODY } from '../protocol/stanzas';
import type { XmlElement } from '../protocol/xml';
import type { RoomRuntime } from '../state/muc-room';

export interface BuiltPost {
  readonly stanza: XmlElement;
  /** Bookkeeping once the MUC accepted it. */
  readonly onAccepted?: (result: PostResult) => void;
}

export class PostBuilder {
  constructor(
    private readonly mode: XmppMode,
    private readonly rooms: MucRooms,
    /** Attachment URLs passed on (xmpp-bridge.parts.ts: the attachment hosts and the upload service). */
    private readonly allowed: (url: string) => boolean,
    private readonly mentions: MentionDirectory,
  ) {}

  build(r: RoomRuntime, as: RemoteUser, action: MessageAction, originId: string): BuiltPost {
    const { from, author } = this.mode.postSender(as);
    const base: Pick<OutboundGroupchat, 'from' | 'to' | 'id' | 'nick'> = {
      from,
      to: r.jid,
      id: originId,
      nick: author,
    };
    const allowed = this.allowed;
    switch (action.type) {
      case 'post': {
        const { passed, omitted } = partitionAttachments(action.body.attachments, allowed);
        const marked = this.markMentions(r, action.body);
        let body = composeBody(outboundText(marked.body, author), passed, omitted);
        let reply: OutboundGroupchat['reply'];
        if (action.inReplyTo) {
          const ref = r.refs.get(action.inReplyTo.platformEventId);
          const fallback = ref?.text !== undefined ? replyFallback(ref) : '';
          body = fallback + body;
          reply = {
            id: action.inReplyTo.platformEventId,
            to: ref?.nick !== undefined ? fullJid(r.jid, ref.nick) : undefined,
            fallbackLength: [...fallback].length,
          };
        }
        const text = takeMentionMarks(body, marked.uris);
        return {
          stanza: buildGroupchat({
            ...base,
            body: text.body,
            reply,
            files: passed,
            references: mentionRefs(text.mentions),
          }),
        };
      }
      case 'edit': {
        const messageId = this.messageIdOf(r, action.target.platformEventId);
        if (messageId === undefined) {
          throw new PlatformError(
            ErrorCode.PlatformRejected,
            `cannot correct ${action.target.platformEventId}: the bridge does not know that message's id`,
            { retryable: false },
          );
        }
        const { passed, omitted } = partitionAttachments(action.body.attachments, allowed);
        const marked = this.markMentions(r, action.body);
        const text = takeMentionMarks(composeBody(outboundText(marked.body, author), passed, omitted), marked.uris);
        return {
          stanza: buildGroupchat({
            ...base,
            body: text.body,
            replaceId: messageId,
            files: passed,
            references: mentionRefs(text.mentions),
          }),
        };
      }
      case 'delete':
        return {
          stanza: buildGroupchat({
            ...base,
            body: RETRACTION_FALLBACK_BODY,
            retractId: action.target.platformEventId,
            store: true,
          }),
        };
      case 'react': {
        const ledger = new OutboundReactionLedger(r.state.reactionsOut);
        const target = action.target.platformEventId;
        const emojis = ledger.setAfterAdd(as.userUri, target, action.key, this.mode.sharedOccupant);
        return {
          stanza: buildGroupchat({ ...base, reactions: { id: target, emojis }, store: true }),
          onAccepted: (res) => {
            ledger.recordAdd(as.userUri, target, action.key, res.platformEventId);
            this.rooms.changed();
          },
        };
      }
      case 'read':
        // XEP-0333 in a MUC names the stanza-id; the store hint gets the marker a stanza-id of its own.
        return { stanza: buildGroupchat({ ...base, displayed: action.target.platformEventId, store: true }) };
      case 'unreact': {
        const ledger = new OutboundReactionLedger(r.state.reactionsOut);
        const found = ledger.find(action.reaction.platformEventId);
        if (!found) {
          throw new PlatformError(
            ErrorCode.PlatformRejected,
            `unknown reaction ${action.reaction.platformEventId}: nothing to remove`,
            { retryable: false },
          );
        }
        const emojis = ledger.setAfterRemove(found.actor, found.target, found.emoji, this.mode.sharedOccupant);
        return {
          stanza: buildGroupchat({ ...base, reactions: { id: found.target, emojis }, store: true }),
          onAccepted: () => {
            ledger.recordRemove(found.actor, found.target, found.emoji);
            this.rooms.changed();
          },
        };
      }
    }
  }

  /** The body with its mentions of occupants marked (content/mentions.ts), and their occupant URIs. */
  private markMentions(r: RoomRuntime, body: MessageBody): { body: MessageBody; uris: string[] } {
    if (body.markdown === undefined) return { body, uris: [] };
    const marked = markMentions(body.markdown, (uri) => this.mentions.nickOf(r, uri), r.jid);
    return { body: { ...body, markdown: marked.markdown }, uris: marked.uris };
  }

  /** The stanza `id` of the message with this stanza-id (XEP-0308 references it). */
  private messageIdOf(r: RoomRuntime, stanzaId: string): string | undefined {
    const ref = r.refs.get(stanzaId);
    if (ref?.messageId !== undefined) return ref.messageId;
    for (const [originId, entry] of Object.entries(r.state.posted)) if (entry.stanzaId === stanzaId) return originId;
    return undefined;
  }
}

/** XEP-0372 mention references for the marked nicks of a body. */
function mentionRefs(mentions: readonly { begin: number; end: number; uri: string }[]): Reference[] {
  return mentions.map((m) => ({ type: 'mention', uri: m.uri, begin: m.begin, end: m.end }));
}
