/**
 * Posts sent and not yet reflected by the MUC. A post counts once the MUC reflects it (XEP-0045
 * §7.4, with its stanza-id); a refusal (a message error with our id) fails it, or makes the sender
 * rejoin and send again when it was no longer an occupant. After a new session, posts sent on the
 * earlier stream and not seen in the archive are sent again with the same id.
 */
import { Logger } from '@nestjs/common';
import { PlatformError } from '../../../src/common/errors';
import type { PostResult, RemoteUser } from '../../../src/ports';
import type { MimiOccupants } from '../muc/mimi-occupants';
import type { MucRooms } from '../muc/rooms';
import { parseStanzaError } from '../protocol/stanzas';
import type { XmlElement } from '../protocol/xml';
import type { Deferred } from '../../kit/post-guard';
import { XmppStanzaError } from '../session/stanza-error';
import type { XmppSession } from '../session/xmpp-session';
import type { RoomRuntime } from '../state/muc-room';

/** Posts whose reflection never came are forgotten after this long. */
const PENDING_POST_TTL_MS = 15 * 60_000;

export interface PendingPost {
  readonly originId: string;
  readonly room: string;
  readonly user: RemoteUser;
  readonly stanza: XmlElement;
  /** The stream generation it was last sent on (undefined: not sent on the current stream). */
  sentGeneration?: number;
  readonly done: Deferred<PostResult>;
  readonly createdAt: number;
  /** Bookkeeping once accepted (reaction ledgers). */
  readonly onAccepted?: (result: PostResult) => void;
}

export class PendingPosts {
  private readonly logger = new Logger('XmppBridge');
  private readonly posts = new Map<string, PendingPost>();

  constructor(
    private readonly session: XmppSession,
    private readonly rooms: MucRooms,
    private readonly members: MimiOccupants,
    private readonly joinTimeoutMs: number,
  ) {}

  get(originId: string): PendingPost | undefined {
    return this.posts.get(originId);
  }

  /** The MIMI user of a post still waiting for its reflection. */
  authorOf(originId: string): RemoteUser | undefined {
    return this.posts.get(originId)?.user;
  }

  /** Wait for `post`'s reflection; it is forgotten after PENDING_POST_TTL_MS. */
  add(post: PendingPost): void {
    this.posts.set(post.originId, post);
    const forget = setTimeout(() => {
      this.session.untrack(forget);
      if (this.posts.get(post.originId) === post) this.posts.delete(post.originId);
    }, PENDING_POST_TTL_MS);
    forget.unref();
    this.session.track(forget);
  }

  /** A reflection with one of our origin-ids: the post is accepted. Returns its author. */
  accept(r: RoomRuntime, originId: string, stanzaId: string, at?: number): RemoteUser | undefined {
    const pending = this.posts.get(originId);
    if (!pending || pending.room !== r.jid) return undefined;
    this.posts.delete(originId);
    const result: PostResult = { platformEventId: stanzaId, echoKeys: [originId], acceptedAt: at ?? Date.now() };
    this.rooms.state.recordPosted(r.jid, originId, { stanzaId, userUri: pending.user.userUri, at: result.acceptedAt });
    pending.onAccepted?.(result);
    pending.done.resolve(result);
    return pending.user;
  }

  /** The MUC refused one of our messages (XEP-0045 §7.4: not an occupant; §8.4: no voice). */
  refused(el: XmlElement): void {
    const id = el.attrs.id;
    const pending = id !== undefined ? this.posts.get(id) : undefined;
    if (!pending) return;
    const error = parseStanzaError(el)!;
    const r = this.rooms.get(pending.room);
    if (error.condition === 'not-acceptable' && r) {
      // We were not an occupant (the room restarted without telling us): rejoin, send again.
      this.logger.warn(`${r.jid}: ${pending.originId} refused as non-occupant; rejoining`);
      pending.sentGeneration = undefined;
      this.members.senderAbsent(r, pending.user);
      void this.members
        .ensureSender(r, pending.user, Date.now() + this.joinTimeoutMs)
        .then(async () => {
          if (pending.sentGeneration === undefined) {
            pending.sentGeneration = this.session.generation;
            await this.session.send(pending.stanza);
          }
        })
        .catch((e: unknown) => {
          this.posts.delete(pending.originId);
          pending.done.reject(e);
        });
      return;
    }
    this.posts.delete(pending.originId);
    const err = new XmppStanzaError(error, `${pending.room} refused the message`);
    pending.done.reject(
      new PlatformError(err.code, err.message, {
        retryable: err.retryable,
        humanMessage: error.condition === 'forbidden' ? 'You may not speak in this XMPP room.' : undefined,
      }),
    );
  }

  /** Posts sent on an earlier stream whose reflection the archive did not show: send again, same id. */
  async resendUnreflected(r: RoomRuntime): Promise<void> {
    for (const p of this.posts.values()) {
      if (p.room !== r.jid || p.sentGeneration === undefined || p.sentGeneration === this.session.generation) continue;
      p.sentGeneration = this.session.generation;
      this.logger.log(`${r.jid}: re-sending ${p.originId}, not reflected before the stream was lost`);
      await this.session.sendQuietly(p.stanza);
    }
  }

  /** Stopping: every post still waiting fails with `error`. */
  rejectAll(error: PlatformError): void {
    for (const p of this.posts.values()) p.done.reject(error);
    this.posts.clear();
  }
}
