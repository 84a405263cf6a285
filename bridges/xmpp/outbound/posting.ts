/**
 * Posting into a MUC for the core: one groupchat stanza per port action, sent by whoever speaks
 * for the MIMI user (mode), accepted when the MUC reflects it (pending-posts.ts). And the bot's
 * failure notices to the author of a message the core could not take.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import type { LegacyRoomRef, MessageAction, PlatformMessageRef, PostOptions, RemoteUser } from '../../../src/ports';
import type { EchoKeyedPostResult } from '../../kit/echo-keys';
import type { XmppMode } from '../mode/xmpp-mode';
import type { MimiOccupants } from '../muc/mimi-occupants';
import type { MucOccupancy } from '../muc/occupancy';
import type { MucRooms } from '../muc/rooms';
import { fullJid } from '../protocol/jids';
import { buildGroupchat, buildPrivateMessage } from '../protocol/stanzas';
import { stanzaBytes } from '../protocol/xml';
import { deferred, withDeadline } from '../../kit/post-guard';
import type { XmppSession } from '../session/xmpp-session';
import { originIdFor } from './origin-id';
import type { MessageModeration } from './moderation';
import type { PendingPosts } from './pending-posts';
import type { PostBuilder } from './post-builder';

export class Poster {
  constructor(
    private readonly session: XmppSession,
    private readonly mode: XmppMode,
    private readonly rooms: MucRooms,
    private readonly occupancy: MucOccupancy,
    private readonly members: MimiOccupants,
    private readonly pending: PendingPosts,
    private readonly builder: PostBuilder,
    private readonly moderation: MessageModeration,
    private readonly opts: { readonly maxStanzaBytes: number; readonly joinTimeoutMs: number },
  ) {}

  /**
   * Send `action` as `as`; resolves with the MUC's stanza-id once reflected. A retry with the same
   * idempotency key waits for the same post (or finds it in the journal) instead of sending again.
   * @throws PlatformError Timeout when no reflection came in `opts.timeoutMs` (retryable)
   */
  async post(
    room: LegacyRoomRef,
    as: RemoteUser,
    action: MessageAction,
    opts: PostOptions,
  ): Promise<EchoKeyedPostResult> {
    const deadline = Date.now() + opts.timeoutMs;
    const r = this.rooms.linked(room);
    const originId = originIdFor(opts.idempotencyKey);
    // Joining replays the archive first: a post that landed before a crash is found there.
    await withDeadline(deadline, 'post', () => this.occupancy.ensureBot(r, deadline));
    const journal = r.state.posted[originId];
    if (journal) return { platformEventId: journal.stanzaId, echoKeys: [originId], acceptedAt: journal.at };
    if (action.type === 'delete' && this.moderation.isOthers(r, as, action.target.platformEventId)) {
      const left = Math.max(1, deadline - Date.now());
      return this.moderation.retract(r, as, action.target.platformEventId, opts.idempotencyKey, left);
    }
    let p = this.pending.get(originId);
    if (!p) {
      const built = this.builder.build(r, as, action, originId);
      const bytes = stanzaBytes(built.stanza);
      const limit = this.opts.maxStanzaBytes;
      if (bytes > limit) {
        throw new PlatformError(
          ErrorCode.PlatformRejected,
          `stanza of ${bytes} bytes exceeds the XMPP server's limit of ${limit} bytes`,
          {
            retryable: false,
            humanMessage: `This message is too large for the XMPP room (${bytes} bytes; the limit is ${limit}).`,
          },
        );
      }
      p = {
        originId,
        room: r.jid,
        user: as,
        stanza: built.stanza,
        done: deferred<EchoKeyedPostResult>(),
        createdAt: Date.now(),
        onAccepted: built.onAccepted,
      };
      this.pending.add(p);
    }
    const post = p;
    await withDeadline(deadline, 'post', async () => {
      await this.members.ensureSender(r, as, deadline);
      if (post.sentGeneration !== this.session.generation) {
        post.sentGeneration = this.session.generation;
        try {
          await this.session.send(post.stanza);
        } catch (e) {
          post.sentGeneration = undefined;
          throw e;
        }
      }
    });
    return withDeadline(deadline, 'post (waiting for the MUC to reflect it)', () => post.done.promise);
  }

  /** A private message from the bot to the author (XEP-0045 §7.5); a groupchat reply when the author left. */
  async notifyFailure(room: LegacyRoomRef, about: PlatformMessageRef, humanMessage: string): Promise<void> {
    await this.notice(room, about, `⚠ ${humanMessage}`);
  }

  /** The bot answers `about`: privately to its sender when they are in the room, else in the room as a reply. */
  async notice(room: LegacyRoomRef, about: PlatformMessageRef, text: string): Promise<void> {
    const r = this.rooms.linked(room);
    await this.occupancy.ensureBot(r, Date.now() + this.opts.joinTimeoutMs);
    const ref = r.refs.get(about.platformEventId);
    const from = this.mode.botFrom();
    if (ref?.nick !== undefined && r.occupants.has(ref.nick)) {
      await this.session.send(
        buildPrivateMessage({ from, to: fullJid(r.jid, ref.nick), id: randomUUID(), body: text }),
      );
      return;
    }
    await this.session.send(
      buildGroupchat({
        from,
        to: r.jid,
        id: `mimi-notice-${randomUUID()}`,
        body: text,
        reply: { id: about.platformEventId, to: ref?.nick !== undefined ? fullJid(r.jid, ref.nick) : undefined },
      }),
    );
  }
}
