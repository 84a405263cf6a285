/**
 * The way in to the core: events go to the InboundSink in room order, one room queue each. An
 * event the sink refuses is retried with backoff without holding up the ones after it; the archive
 * cursor stays before it until it is recorded, so a restart replays it from the archive.
 */
import { Logger } from '@nestjs/common';
import { errorMessage } from '../../../src/common/errors';
import type { InboundEvent, InboundSink } from '../../../src/ports';
import type { XmppSession } from '../session/xmpp-session';
import type { RoomRuntime } from '../state/muc-room';

export class CoreDelivery {
  private readonly logger = new Logger('XmppBridge');
  private sink?: InboundSink;

  constructor(
    private readonly session: XmppSession,
    private readonly opts: { readonly sinkRetryAttempts: number; readonly sinkRetryInitialMs: number },
  ) {}

  open(sink: InboundSink): void {
    this.sink = sink;
  }

  /**
   * Hand `events` to the sink after everything queued before in `r`. `cursor`: the archived
   * message they come from; `dedupeId`: remembered so a replay of the same message is dropped.
   */
  deliver(r: RoomRuntime, events: InboundEvent[], cursor?: { stanzaId: string; at: number }, dedupeId?: string): void {
    if (dedupeId !== undefined) r.delivered.set(dedupeId, true);
    r.queue = r.queue.then(async () => {
      let ok = true;
      for (const event of events) {
        try {
          await this.sink!(event);
        } catch (e) {
          ok = false;
          this.logger.warn(`${r.jid}: the core refused ${event.platformEventId}: ${errorMessage(e)}; retrying`);
          this.retryLater(r, event, cursor?.stanzaId, 1);
        }
      }
      if (cursor) {
        r.cursor.done(cursor.stanzaId, cursor.at, ok);
      }
    });
  }

  private retryLater(r: RoomRuntime, event: InboundEvent, cursorId: string | undefined, attempt: number): void {
    if (this.session.stopping) return;
    if (attempt > this.opts.sinkRetryAttempts) {
      this.logger.error(
        `${r.jid}: giving up on ${event.platformEventId} after ${attempt - 1} retries; it is replayed from the archive after the next reconnection`,
      );
      return;
    }
    const delay = this.opts.sinkRetryInitialMs * 2 ** (attempt - 1);
    this.session.later(delay, () => {
      r.queue = r.queue.then(async () => {
        try {
          await this.sink!(event);
          if (cursorId !== undefined) r.cursor.retried(cursorId);
        } catch (e) {
          this.logger.warn(`${r.jid}: retry ${attempt} of ${event.platformEventId} refused: ${errorMessage(e)}`);
          this.retryLater(r, event, cursorId, attempt + 1);
        }
      });
    });
  }
}
