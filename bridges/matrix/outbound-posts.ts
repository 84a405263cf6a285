/**
 * One message action sent as a ghost, which joins the room first: a read receipt
 * (read-receipts.ts), a redaction for a delete or unreact (redactions.ts), or else the rendered
 * event (matrix-event.mapper.ts, with reply mentions) under the transaction ID `txnId`, so a retry
 * is de-duplicated by the homeserver. A post with several files may be one event per file
 * (outbound-files.ts), under `txnId`, `txnId.1`, …, and a delete of it redacts them all. Resolves
 * with the (first) event ID.
 *
 * Each event sent carries its transaction ID in its content (sent-events.ts). When an earlier
 * attempt may have landed unseen (the caller says it is a retry, or an attempt of this process
 * got no answer), the ghost's latest events are searched first and an event found is taken
 * instead of sending again: Synapse forgets transaction IDs when it restarts. A first attempt
 * makes no extra request.
 */
import { Logger } from '@nestjs/common';
import type { Intent } from 'matrix-appservice-bridge';
import { BoundedMap } from '../kit/bounded-map';
import type { MessageAction } from '../../src/ports';
import { type MapperContext, type OutboundEvent, outboundEventFor } from './matrix-event.mapper';
import { fileEventsOf, fileOf, splitFiles } from './outbound-files';
import type { Ghost, GhostMembership } from './ghost-membership';
import { redactAsGhostOrBot } from './redactions';
import type { ReplyMentions } from './reply-mentions';
import { sendReadReceipt } from './read-receipts';
import { findSentEvents, withTxnMarker } from './sent-events';

export interface OutboundPostsDeps {
  readonly bot: () => Intent;
  readonly ctx: () => MapperContext;
  readonly ghosts: GhostMembership;
  readonly replyMentions: ReplyMentions;
}

/** Unanswered sends remembered (bridges/kit/bounded-map.ts), as many as the bridge's other records. */
const UNANSWERED_MAX = 10_000;

export class OutboundPosts {
  /** Transaction IDs of posts sent without an answer yet (in flight, failed, timed out). */
  private readonly unanswered: BoundedMap<string, true>;
  private readonly logger = new Logger(OutboundPosts.name);

  constructor(private readonly deps: OutboundPostsDeps) {
    this.unanswered = new BoundedMap(UNANSWERED_MAX);
  }

  /** `retry`: an earlier attempt, maybe of another process, may have landed (PostOptions.retry). */
  async send(roomId: string, ghost: Ghost, action: MessageAction, txnId: string, retry = false): Promise<string> {
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
    const look = retry || this.unanswered.has(txnId);
    this.unanswered.set(txnId, true);
    // Sent before, unseen? Then each event found is taken instead of sending it again.
    const earlier = look ? await findSentEvents(intent.matrixClient, roomId, id) : new Map<string, string>();
    const put = async (event: OutboundEvent, txn: string): Promise<string> => {
      const found = earlier.get(txn);
      if (found === undefined) return this.put(intent, roomId, event, txn);
      this.logger.log(`${roomId}: ${txn} was sent before as ${found} (answer lost): not sent again`);
      return found;
    };
    const eventId = await put(out, txnId);
    for (const [i, file] of files.entries()) {
      const event = outboundEventFor(file, ctx)!;
      await put({ ...event, content: fileOf(event.content, eventId) }, `${txnId}.${i + 1}`);
    }
    this.unanswered.delete(txnId);
    return eventId;
  }

  private async put(intent: Intent, roomId: string, out: OutboundEvent, txnId: string): Promise<string> {
    const res = (await intent.matrixClient.doRequest(
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${out.type}/${encodeURIComponent(txnId)}`,
      null,
      withTxnMarker(out.content, txnId),
    )) as { event_id: string };
    return res.event_id;
  }
}
