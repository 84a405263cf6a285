/**
 * Every `<message/>` the stream delivers, sorted: archive results (mam-catch-up.ts), refusals of
 * our posts (outbound/pending-posts.ts), groupchat messages (groupchat.ts; held back while the
 * archive is replayed, so the core sees archive order), mediated invitations of our puppets, and
 * direct messages (answered with an error: they are not bridged).
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { errorMessage } from '../../../src/common/errors';
import type { XmppMode } from '../mode/xmpp-mode';
import type { OccupantIdentity } from '../muc/occupant-identity';
import { type MucRooms, roomRef } from '../muc/rooms';
import { bare, resourceOf } from '../protocol/jids';
import { NS } from '../protocol/namespaces';
import { buildErrorReply, parseGroupchat } from '../protocol/stanzas';
import type { XmlElement } from '../protocol/xml';
import type { PendingPosts } from '../outbound/pending-posts';
import type { XmppSession } from '../session/xmpp-session';
import type { RoomRuntime } from '../state/muc-room';
import type { CoreDelivery } from './core-delivery';
import type { GroupchatHandler } from './groupchat';
import type { MamCatchUp } from './mam-catch-up';

export class MessageRouter {
  private readonly logger = new Logger('XmppBridge');

  constructor(
    private readonly session: XmppSession,
    private readonly mode: XmppMode,
    private readonly rooms: MucRooms,
    private readonly identity: OccupantIdentity,
    private readonly posts: PendingPosts,
    private readonly mam: MamCatchUp,
    private readonly groupchat: GroupchatHandler,
    private readonly delivery: CoreDelivery,
  ) {}

  handle(el: XmlElement): void {
    const type = el.attrs.type ?? 'normal';
    const to = el.attrs.to ?? '';
    if (this.mam.collect(el)) return;
    if (type === 'error') return this.posts.refused(el);
    const roomJid = bare(el.attrs.from ?? '');
    const r = this.rooms.get(roomJid);
    if (type === 'groupchat') {
      if (!r) return;
      if (!this.mode.isBotAddress(to)) {
        // A puppet's copy: only used to accept its own post early.
        const p = parseGroupchat(el);
        if (p.originId !== undefined && p.stanzaId !== undefined) {
          this.posts.accept(r, p.originId, p.stanzaId, p.delayedAt);
        }
        return;
      }
      if (r.catchingUp) {
        r.buffered.push(() => this.groupchat.handle(r, el, undefined));
        return;
      }
      this.groupchat.handle(r, el, undefined);
      return;
    }
    if (r) {
      const invite = el.getChild('x', NS.MUC_USER)?.getChild('invite');
      if (invite) this.onMediatedInvite(r, el, invite);
      return;
    }
    // Direct messages to a puppet or the bot. Never bounce anything coming from a MUC: a MUC
    // removes occupants whose client bounces errors (Prosody: status 333).
    if (!el.getChild('body')) return;
    void this.session
      .send(
        buildErrorReply(
          el,
          'cancel',
          'service-unavailable',
          'Direct messages are not bridged to MIMI; write in the bridged room.',
        ),
      )
      .catch(() => undefined);
  }

  /** The archive replay is over: live messages held back meanwhile go through, in order. */
  releaseBuffered(r: RoomRuntime): void {
    r.catchingUp = false;
    const buffered = r.buffered;
    r.buffered = [];
    for (const run of buffered) {
      try {
        run();
      } catch (e) {
        this.logger.warn(`${r.jid}: a buffered message failed: ${errorMessage(e)}`);
      }
    }
  }

  /**
   * XEP-0045 §7.8.2: an occupant invited one of our puppets through the room (the MUC checked that
   * the inviter may invite and forwards `<invite from='inviter'/>` to the invitee). This is how an
   * XMPP user adds a MIMI user: reported as an `invite` of that RemoteUser, by the inviter. Relay
   * mode has no per-user addresses, so nothing can be invited there.
   */
  private onMediatedInvite(r: RoomRuntime, el: XmlElement, invite: XmlElement): void {
    const puppets = this.mode.puppets;
    if (!puppets) return;
    const userUri = puppets.invited(el.attrs.to ?? '');
    const inviter = invite.attrs.from;
    if (userUri === undefined || inviter === undefined) return;
    // Prosody names the inviter by real JID; a room that hides it gives room@service/nick.
    const by =
      bare(inviter) === r.jid
        ? this.identity.occupantUserByNick(r, resourceOf(inviter))
        : this.identity.userOfJid(inviter);
    if ('userUri' in by) return; // our own puppets do not invite
    const reason = invite.getChildText('reason') ?? undefined;
    this.delivery.deliver(r, [
      {
        kind: 'membership',
        room: roomRef(r.jid),
        platformEventId: `xmpp-invite:${r.jid}/${el.attrs.id ?? randomUUID()}`,
        user: { userUri },
        membership: 'invite',
        by,
        ...(reason ? { reason } : {}),
        timestamp: Date.now(),
      },
    ]);
  }
}
