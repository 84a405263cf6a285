/**
 * The way in to the core: events go to the InboundSink in room order, one room queue each, through
 * the kit's ordered delivery (bridges/kit/inbound-delivery.ts). An event the sink refuses is retried
 * with backoff in its place, the room's later messages waiting for it until it is recorded or
 * parked; the archive cursor stays before it until it is recorded, so a restart replays it from the
 * archive.
 */
import type { InboundEvent, InboundSink } from '../../../src/ports';
import { InboundDelivery } from '../../kit/inbound-delivery';
import type { XmppSession } from '../session/xmpp-session';
import type { RoomRuntime } from '../state/muc-room';

export class CoreDelivery {
  private readonly queues: InboundDelivery;

  constructor(session: XmppSession, opts: { readonly sinkRetryAttempts: number; readonly sinkRetryInitialMs: number }) {
    this.queues = new InboundDelivery({
      name: 'XmppBridge',
      retryAttempts: opts.sinkRetryAttempts,
      retryInitialMs: opts.sinkRetryInitialMs,
      later: (ms, fn) => session.later(ms, fn),
      stopping: () => session.stopping,
      parkedNote: 'it is replayed from the archive after the next reconnection',
    });
  }

  open(sink: InboundSink): void {
    this.queues.open(sink);
  }

  /**
   * Hand `events` to the sink after everything queued before in `r`. `cursor`: the archived
   * message they come from; `dedupeId`: remembered so a replay of the same message is dropped.
   */
  deliver(r: RoomRuntime, events: InboundEvent[], cursor?: { stanzaId: string; at: number }, dedupeId?: string): void {
    if (dedupeId !== undefined) r.delivered.set(dedupeId, true);
    this.queues.deliver(r.jid, events, {
      done: (ok) => {
        if (cursor) r.cursor.done(cursor.stanzaId, cursor.at, ok);
      },
      recovered: () => {
        if (cursor) r.cursor.retried(cursor.stanzaId);
      },
    });
  }

  /** Resolves once everything queued so far was handed to the core (on stop). */
  async drain(): Promise<void> {
    await this.queues.drain();
    this.queues.clear();
  }
}
