/**
 * One groupchat message, as the bot sees it (live, or replayed from the archive), to InboundEvents:
 *
 *   stanza → parseGroupchat (protocol/stanzas.ts) → who sent it (mode.senderOf) → our own post's
 *   reflection accepts it (outbound/pending-posts.ts) → mapInbound (content/message-mapping.ts)
 *   → message / roomMetadata events → CoreDelivery (core-delivery.ts) → the core's InboundSink.
 *
 * Our own puppets' messages come back as echoes (sender = the RemoteUser, echoKeys = [origin-id]);
 * the bot's own notices are never reported.
 */
import { createHash } from 'node:crypto';
import { Platform } from '../../../src/common/ids';
import type { LegacyUserRef, RemoteUser } from '../../../src/ports';
import type { EchoKeyedInboundEvent } from '../../kit/echo-keys';
import { mapInbound } from '../content/message-mapping';
import { InboundReactionLedger } from '../content/reactions';
import type { XmppMode } from '../mode/xmpp-mode';
import type { MentionDirectory } from '../muc/mention-directory';
import type { OccupantIdentity } from '../muc/occupant-identity';
import { type MucRooms, roomRef } from '../muc/rooms';
import { bare, fullJid, resourceOf } from '../protocol/jids';
import { parseGroupchat, type ParsedGroupchat, type ParsedModeration, parseModeration } from '../protocol/stanzas';
import type { XmlElement } from '../protocol/xml';
import { moderationEventId } from '../outbound/moderation';
import { isPostOriginId } from '../outbound/origin-id';
import type { PendingPosts } from '../outbound/pending-posts';
import type { RoomRuntime } from '../state/muc-room';
import type { CoreDelivery } from './core-delivery';
import { type XmppCommands, parseInviteCommand } from './commands';
import { isLeaveCommand } from './membership-rule';
import { vcardAvatarUrl } from '../media/vcard-avatars';

export class GroupchatHandler {
  constructor(
    private readonly mode: XmppMode,
    private readonly rooms: MucRooms,
    private readonly identity: OccupantIdentity,
    private readonly posts: PendingPosts,
    private readonly delivery: CoreDelivery,
    /** Attachment URLs passed on (xmpp-bridge.parts.ts: the attachment hosts and the upload service). */
    private readonly isAllowedUrl: (url: string) => boolean,
    private readonly mentions: MentionDirectory,
    private readonly commands: XmppCommands,
  ) {}

  /** One groupchat message from the bot's view (live, or replayed from the archive). */
  handle(r: RoomRuntime, el: XmlElement, archived?: { archiveId: string; stamp?: number }): void {
    const parsed = parseGroupchat(el);
    const p: ParsedGroupchat = archived
      ? { ...parsed, stanzaId: archived.archiveId, delayedAt: archived.stamp ?? parsed.delayedAt }
      : parsed;
    const platformEventId =
      p.stanzaId ??
      `xmpp:${r.jid}:${p.occupantId ?? p.nick}:${p.id ?? createHash('sha256').update(el.toString()).digest('hex').slice(0, 16)}`;
    if (r.delivered.has(platformEventId)) return;
    const timestamp = p.delayedAt ?? Date.now();
    if (p.stanzaId !== undefined) {
      r.refs.set(p.stanzaId, { stanzaId: p.stanzaId, messageId: p.id, nick: p.nick, text: p.body });
    }
    if (p.nick === '') {
      // From the room itself: a moderator's retraction (XEP-0425), or the subject.
      const moderation = parseModeration(el);
      if (moderation !== undefined) return this.onModeration(r, moderation, timestamp, p.stanzaId);
      this.onSubject(r, p, platformEventId, timestamp);
      return;
    }
    const sender = this.senderOf(r, p);
    let echoUser: RemoteUser | undefined;
    if (sender !== 'bot' && 'userUri' in sender) echoUser = sender;
    // Only our own occupants' reflections can be our posts: a native's copied origin-id is theirs.
    const fromUs = sender === 'bot' || echoUser !== undefined;
    if (fromUs && p.originId !== undefined && p.stanzaId !== undefined) {
      const accepted = this.posts.accept(r, p.originId, p.stanzaId, p.delayedAt);
      if (accepted) echoUser = accepted;
      const ownPost = echoUser !== undefined || (sender === 'bot' && isPostOriginId(p.originId));
      if (ownPost && !r.state.posted[p.originId]) {
        // Seen again after a restart (archive replay): remember it, so a retried post is not sent twice.
        this.rooms.state.recordPosted(r.jid, p.originId, {
          stanzaId: p.stanzaId,
          userUri: echoUser?.userUri ?? '',
          at: timestamp,
        });
      }
    }
    const owner = referenceOwner(echoUser ?? sender, p);
    if (p.stanzaId !== undefined) {
      for (const id of [p.id, p.originId]) {
        if (id === undefined) continue;
        if (!r.byMessageId.has(id)) r.byMessageId.set(id, p.stanzaId);
        r.byOwnMessageId.set(ownKey(owner, id), p.stanzaId);
      }
    }
    if (echoUser === undefined && sender === 'bot') return; // our own notices, or a post whose author we lost
    if (echoUser === undefined && isLeaveCommand(p.body)) {
      return this.onLeaveCommand(r, sender as LegacyUserRef, platformEventId, timestamp, p.stanzaId);
    }
    const invite = echoUser === undefined ? parseInviteCommand(p.body) : undefined;
    if (invite !== undefined) {
      // A command runs once, live: not again from the archive or the MUC's history.
      if (archived === undefined && p.delayedAt === undefined) {
        void this.commands.invite(r, sender as LegacyUserRef, p.nick, invite.address, platformEventId);
      }
      return;
    }
    const content = mapInbound(p, {
      byMessageId: (id) => r.byMessageId.get(id) ?? id,
      byOwnMessageId: (id) => r.byOwnMessageId.get(ownKey(owner, id)) ?? id,
      byStanzaId: (id) => id,
      isAllowedUrl: this.isAllowedUrl,
      mentions: this.mentions.lookup(r),
    });
    const room = roomRef(r.jid);
    const from: LegacyUserRef | RemoteUser = echoUser ?? (sender as LegacyUserRef);
    const echoKeys = echoUser && p.originId !== undefined ? { echoKeys: [p.originId] } : {};
    const events: EchoKeyedInboundEvent[] = [];
    switch (content.kind) {
      case 'none':
        break;
      case 'subject':
        this.onSubject(r, p, platformEventId, timestamp);
        return;
      case 'reactions': {
        const ledger = new InboundReactionLedger(r.state.reactionsIn);
        const senderKey = echoUser ? echoUser.userUri : (from as LegacyUserRef).userId;
        const changes = ledger.apply(senderKey, content.target, content.emojis, platformEventId);
        this.rooms.changed();
        changes.forEach((c, n) => {
          events.push({
            kind: 'message',
            room,
            platformEventId: c.type === 'react' ? c.eventId : `${platformEventId}#u${n}`,
            sender: from,
            action:
              c.type === 'react'
                ? { type: 'react', target: { platformEventId: content.target }, key: c.key }
                : { type: 'unreact', reaction: { platformEventId: c.reactionEventId } },
            timestamp,
            ...echoKeys,
          });
        });
        break;
      }
      case 'action': {
        const action = echoUser ? this.mode.echoAction(content.action, echoUser) : content.action;
        events.push({ kind: 'message', room, platformEventId, sender: from, action, timestamp, ...echoKeys });
        break;
      }
    }
    this.delivery.deliver(
      r,
      events,
      p.stanzaId !== undefined ? { stanzaId: p.stanzaId, at: timestamp } : undefined,
      platformEventId,
    );
  }

  /** `!mimi leave` from a native occupant: their explicit leave of the MIMI room (membership-rule.ts). */
  private onLeaveCommand(
    r: RoomRuntime,
    user: LegacyUserRef,
    platformEventId: string,
    timestamp: number,
    stanzaId: string | undefined,
  ): void {
    delete r.state.occupants[user.userId];
    this.rooms.changed();
    this.delivery.deliver(
      r,
      [{ kind: 'membership', room: roomRef(r.jid), platformEventId, user, membership: 'leave', timestamp }],
      stanzaId !== undefined ? { stanzaId, at: timestamp } : undefined,
      platformEventId,
    );
  }

  /**
   * XEP-0425: a native moderator retracted a message; the delete is theirs. The bridge's own
   * moderations (by the bot, for MIMI moderators: outbound/moderation.ts) were recorded when made.
   */
  private onModeration(r: RoomRuntime, m: ParsedModeration, timestamp: number, stanzaId: string | undefined): void {
    const nick = m.by !== undefined && bare(m.by) === r.jid ? resourceOf(m.by) : undefined;
    if (nick === undefined || nick === r.botNick) return;
    const by = this.identity.occupantUserByNick(r, nick);
    if ('userUri' in by) return;
    const platformEventId = moderationEventId(r.jid, m.stanzaId);
    const action = { type: 'delete' as const, target: { platformEventId: m.stanzaId } };
    this.delivery.deliver(
      r,
      [{ kind: 'message', room: roomRef(r.jid), platformEventId, sender: by, action, timestamp }],
      stanzaId !== undefined ? { stanzaId, at: timestamp } : undefined,
      platformEventId,
    );
  }

  private onSubject(r: RoomRuntime, p: ParsedGroupchat, platformEventId: string, timestamp: number): void {
    if (p.subject === undefined || p.subject === r.state.subject) return;
    if (r.state.subject === undefined && p.subject === '') return;
    r.state.subject = p.subject;
    this.rooms.changed();
    this.delivery.deliver(r, [
      { kind: 'roomMetadata', room: roomRef(r.jid), platformEventId, topic: p.subject, timestamp },
    ]);
  }

  /** Who wrote a groupchat message: 'bot', one of our MIMI users, or a native occupant. */
  private senderOf(r: RoomRuntime, p: ParsedGroupchat): LegacyUserRef | RemoteUser | 'bot' {
    const sender = this.mode.senderOf(r, p, {
      ownerOf: (room, o) => this.identity.ownerOf(room, o),
      pendingAuthor: (originId) => this.posts.authorOf(originId),
    });
    if (sender !== 'native') return sender;
    const occupant = r.occupants.get(p.nick);
    const realJid = occupant?.realJid ?? p.realJid;
    // XEP-0153: the avatar as the occupant's presence announced it (media/vcard-avatars.ts).
    const avatar =
      realJid !== undefined && occupant?.photo ? { avatarUrl: vcardAvatarUrl(realJid, occupant.photo) } : {};
    return { platform: Platform.Xmpp, userId: realJid ?? fullJid(r.jid, p.nick), displayName: p.nick, ...avatar };
  }
}

/**
 * Whose message ids a message's own references (corrections, 0.x retractions) may name: one of our
 * MIMI users, the bot, or a native occupant by real JID, else by its XEP-0421 occupant-id (which
 * the MUC sets), and only failing both by `room/nick`.
 */
function referenceOwner(sender: LegacyUserRef | RemoteUser | 'bot', p: ParsedGroupchat): string {
  if (sender === 'bot') return 'bot';
  if ('userUri' in sender) return sender.userUri;
  if (bare(sender.userId) !== p.room || p.occupantId === undefined) return sender.userId;
  return `occupant-id:${p.occupantId}`;
}

function ownKey(owner: string, id: string): string {
  return `${owner}\n${id}`;
}
