/**
 * Read receipts (issue 13 item 4): a Matrix `m.read` receipt or an XEP-0333 `displayed` marker
 * is a `read` MessageAction, sent into MIMI as a message status report (content-mapping.ts).
 *
 * - Coalescing: a client marks messages read as the user scrolls; only the latest marker of a
 *   user in a room matters. `ReadCoalescer` sends the first at once and then at most one per
 *   interval per (platform, room, user), the latest one offered meanwhile (latest wins; the
 *   superseded ones are dropped, which loses nothing since a later read covers them).
 * - Senders: a receipt from someone with no client in the group is dropped without a word (a
 *   message would be refused and the user told; a receipt is not worth a notice).
 */
import { Logger } from '@nestjs/common';
import { errorMessage } from '../common/errors';
import type { InboundEvent } from '../ports';

/** At most one read report per user per room this often (ms). */
const READ_INTERVAL_MS = 3_000;
/** Idle slots are forgotten past this many (each holds only a timestamp). */
const MAX_IDLE_SLOTS = 10_000;

interface Slot {
  lastSent: number;
  pending?: () => Promise<void>;
  timer?: ReturnType<typeof setTimeout>;
}

/** True for a message event whose action is a read marker. */
export function isReadEvent(event: InboundEvent): event is Extract<InboundEvent, { kind: 'message' }> {
  return event.kind === 'message' && event.action.type === 'read';
}

/** The coalescing key of a read event: platform, room and reader. */
export function readKey(event: Extract<InboundEvent, { kind: 'message' }>): string {
  const reader = 'userUri' in event.sender ? event.sender.userUri : event.sender.userId;
  return `${event.room.platform}\n${event.room.roomId}\n${reader}`;
}

export class ReadCoalescer {
  private readonly logger = new Logger(ReadCoalescer.name);
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly intervalMs: number = READ_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Send `send` now when `key` sent nothing within the interval (its outcome is the caller's);
   * otherwise keep it as the key's pending report, replacing an earlier pending one, to be sent
   * when the interval is over (a failure then is logged: a receipt is not redelivered).
   */
  offer(key: string, send: () => Promise<void>): Promise<void> {
    const now = this.now();
    const slot = this.slots.get(key);
    if (slot === undefined || (slot.pending === undefined && now - slot.lastSent >= this.intervalMs)) {
      if (this.slots.size >= MAX_IDLE_SLOTS) this.forgetIdle(now);
      this.slots.set(key, { lastSent: now });
      return send();
    }
    slot.pending = send;
    if (slot.timer === undefined) {
      const wait = Math.max(0, slot.lastSent + this.intervalMs - now);
      slot.timer = setTimeout(() => this.flush(key, slot), wait);
      slot.timer.unref?.();
    }
    return Promise.resolve();
  }

  /** Drop every pending report (shutdown). */
  stop(): void {
    for (const slot of this.slots.values()) if (slot.timer !== undefined) clearTimeout(slot.timer);
    this.slots.clear();
  }

  private flush(key: string, slot: Slot): void {
    const send = slot.pending;
    slot.pending = undefined;
    slot.timer = undefined;
    if (send === undefined) return;
    slot.lastSent = this.now();
    send().catch((e: unknown) =>
      this.logger.warn(`read marker ${key.replace(/\n/g, ' ')} not sent: ${errorMessage(e)}`),
    );
  }

  private forgetIdle(now: number): void {
    for (const [key, slot] of this.slots) {
      if (slot.pending === undefined && now - slot.lastSent >= this.intervalMs) this.slots.delete(key);
    }
  }
}

/** True for a read marker by `user` when `user` has no client in the group: it is dropped. */
export function isReadWithoutClient(
  event: InboundEvent,
  members: readonly { readonly user?: string }[],
  user: string,
): boolean {
  return isReadEvent(event) && !members.some((m) => m.user === user);
}
