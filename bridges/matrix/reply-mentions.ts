/**
 * A reply mentions the author of the message it answers (client-server API v1.7+ "User and room
 * mentions": the replying client includes the replied-to event's sender in `m.mentions.user_ids`),
 * so a Matrix user gets a notification when someone on another platform answers them, even though
 * MIMI content has no mention for it (a reply only names the message, content-08 §5.2).
 */
import type { MessageAction } from '../../src/ports';
import { BoundedMap } from '../kit/bounded-map';
import type { OutboundEvent } from './matrix-event.mapper';

/** Senders remembered (event ID → user ID) from the transactions, so most replies need no lookup. */
const REMEMBERED = 10_000;

export class ReplyMentions {
  private readonly senders = new BoundedMap<string, string>(REMEMBERED);

  /** @param readSender the sender of an event, read from the homeserver (undefined when it cannot be read) */
  constructor(private readonly readSender: (roomId: string, eventId: string) => Promise<string | undefined>) {}

  /** An event seen in a transaction: its sender is kept for replies to it. */
  remember(eventId: string, sender: string): void {
    this.senders.set(eventId, sender);
  }

  /** `out` with the replied-to author added to its mentions (not when `author` answers themselves). */
  async addTo(roomId: string, author: string, action: MessageAction, out: OutboundEvent): Promise<OutboundEvent> {
    if (action.type !== 'post' || action.inReplyTo === undefined) return out;
    const target = action.inReplyTo.platformEventId;
    const sender = this.senders.get(target) ?? (await this.readSender(roomId, target));
    if (sender === undefined || sender === author) return out;
    const mentions = out.content['m.mentions'] as { user_ids?: string[] } | undefined;
    const userIds = mentions?.user_ids ?? [];
    if (userIds.includes(sender)) return out;
    return { ...out, content: { ...out.content, 'm.mentions': { ...mentions, user_ids: [...userIds, sender] } } };
  }
}
