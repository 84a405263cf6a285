/**
 * One message action sent as a ghost, which joins the room first: a read receipt
 * (read-receipts.ts), a redaction for a delete or unreact (redactions.ts), or else the rendered
 * event (matrix-event.mapper.ts, with reply mentions) under the transaction ID `txnId`, so a retry
 * is de-duplicated by the homeserver. A post with several files may be one event per file
 * (outbound-files.ts), under `txnId`, `txnId.1`, …, and a delete of it redacts them all. Resolves
 * with the (first) event ID.
 */
import type { Intent } from 'matrix-appservice-bridge';
import type { MessageAction } from '../../src/ports';
import { type MapperContext, type OutboundEvent, outboundEventFor } from './matrix-event.mapper';
import { fileEventsOf, fileOf, splitFiles } from './outbound-files';
import type { Ghost, GhostMembership } from './ghost-membership';
import { redactAsGhostOrBot } from './redactions';
import type { ReplyMentions } from './reply-mentions';
import { sendReadReceipt } from './read-receipts';

export interface OutboundPostsDeps {
  readonly bot: () => Intent;
  readonly ctx: () => MapperContext;
  readonly ghosts: GhostMembership;
  readonly replyMentions: ReplyMentions;
}

export class OutboundPosts {
  constructor(private readonly deps: OutboundPostsDeps) {}

  async send(roomId: string, ghost: Ghost, action: MessageAction, txnId: string): Promise<string> {
    const { id, intent } = ghost;
    await this.deps.ghosts.join(roomId, { id, intent });
    if (action.type === 'read') {
      return sendReadReceipt({ id, intent }, roomId, action.target.platformEventId);
    }
    if (action.type === 'delete' || action.type === 'unreact') {
      const target = action.type === 'delete' ? action.target.platformEventId : action.reaction.platformEventId;
      // A post sent as one event per file (outbound-files.ts) is deleted with all its events.
      const files =
        action.type === 'delete' ? await fileEventsOf(intent.matrixClient, roomId, target, this.deps.ctx().ids) : [];
      const redact = (event: string, txn: string): Promise<string> =>
        redactAsGhostOrBot({ roomId, target: event, txnId: txn, ghost: { id, intent }, bot: this.deps.bot() });
      const eventId = await redact(target, txnId);
      for (const [i, file] of files.entries()) await redact(file, `${txnId}.${i + 1}`);
      return eventId;
    }
    const ctx = this.deps.ctx();
    // A post with several files may be several events (outbound-files.ts); the first is the post's.
    const [first, ...files] = action.type === 'post' ? splitFiles(action, ctx) : [action];
    const out = await this.deps.replyMentions.addTo(roomId, id, first, outboundEventFor(first, ctx)!);
    const eventId = await this.put(intent, roomId, out, txnId);
    for (const [i, file] of files.entries()) {
      const event = outboundEventFor(file, ctx)!;
      await this.put(intent, roomId, { ...event, content: fileOf(event.content, eventId) }, `${txnId}.${i + 1}`);
    }
    return eventId;
  }

  private async put(intent: Intent, roomId: string, out: OutboundEvent, txnId: string): Promise<string> {
    const res = (await intent.matrixClient.doRequest(
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${out.type}/${encodeURIComponent(txnId)}`,
      null,
      out.content,
    )) as { event_id: string };
    return res.event_id;
  }
}
