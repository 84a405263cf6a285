/**
 * A MIMI delete of someone else's message (a moderator's, which the MIMI hub authorised under the
 * room's roles) becomes an XEP-0425 moderation by the bot, which moderates the MUC: XEP-0424 lets
 * an occupant retract only their own messages. The moderator's name goes into the reason. Without
 * XEP-0425 in the room (Prosody needs `mod_muc_moderation`, Debian's prosody-modules) the delete
 * is refused, not sent as a retraction clients would ignore.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import type { RemoteUser } from '../../../src/ports';
import type { EchoKeyedPostResult } from '../../kit/echo-keys';
import { BoundedMap } from '../../kit/bounded-map';
import type { XmppMode } from '../mode/xmpp-mode';
import { buildModerateRetract } from '../protocol/stanzas';
import type { IqClient } from '../session/iq-client';
import type { RoomRuntime } from '../state/muc-room';

/** Moderations done, by idempotency key: a retry resolves with the first result. */
const REMEMBERED = 5000;

/** The platform event ID of a moderation (the room announces it without an ID we could wait for). */
export function moderationEventId(roomJid: string, stanzaId: string): string {
  return `xmpp-moderation:${roomJid}:${stanzaId}`;
}

export class MessageModeration {
  private readonly done = new BoundedMap<string, EchoKeyedPostResult>(REMEMBERED);

  constructor(
    private readonly iq: IqClient,
    private readonly mode: XmppMode,
  ) {}

  /** Whether the message with this stanza-id is someone else's than `as`'s (then a delete of it is a moderation). */
  isOthers(r: RoomRuntime, as: RemoteUser, stanzaId: string): boolean {
    for (const entry of Object.values(r.state.posted)) {
      if (entry.stanzaId === stanzaId) return entry.userUri !== as.userUri;
    }
    const nick = r.refs.get(stanzaId)?.nick;
    const own = r.puppets.get(as.userUri)?.nick;
    return nick !== undefined && nick !== own;
  }

  /**
   * Retract the message with this stanza-id as a moderator, for `as`.
   * @throws PlatformError PlatformRejected when the room has no XEP-0425 or refuses the bot
   */
  async retract(
    r: RoomRuntime,
    as: RemoteUser,
    stanzaId: string,
    idempotencyKey: string,
    timeoutMs: number,
  ): Promise<EchoKeyedPostResult> {
    const known = this.done.get(idempotencyKey);
    if (known) return known;
    if (r.moderation === undefined) {
      throw new PlatformError(
        ErrorCode.PlatformRejected,
        `${r.jid} does not support XEP-0425 message moderation: a moderator's delete cannot be carried out`,
        { retryable: false },
      );
    }
    const who = as.displayName ?? as.userUri;
    await this.iq.request(
      buildModerateRetract({
        from: this.mode.botFrom(),
        to: r.jid,
        id: randomUUID(),
        stanzaId,
        reason: `Deleted by ${who}, a moderator of the MIMI room`,
        version: r.moderation,
      }),
      timeoutMs,
    );
    const platformEventId = moderationEventId(r.jid, stanzaId);
    const result: EchoKeyedPostResult = { platformEventId, echoKeys: [platformEventId], acceptedAt: Date.now() };
    this.done.set(idempotencyKey, result);
    return result;
  }
}
