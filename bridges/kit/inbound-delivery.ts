/**
 * The way from a bridge into the core: what every bridge needs between its platform and the
 * core's InboundSink.
 *
 * - `PoisonLedger`: bounded retries per event. An event that keeps failing is parked alone, with
 *   its reason, after `maxAttempts` failed attempts; nothing else waits for it. One bad event never
 *   blocks a queue.
 * - `InboundDelivery`: one ordered queue per room. Events go to the sink in the order they were
 *   queued; an event the sink refuses is retried with exponential backoff in its place: the room's
 *   later events wait for it (a sender's messages keep their order over a database outage), until
 *   it is recorded or parked, when the ledger says so (other rooms never wait for it).
 *
 * A bridge whose platform redelivers by itself (Matrix: the homeserver re-sends a transaction until
 * it is acknowledged) only needs the ledger; a bridge that must retry on its own (XMPP) uses the
 * queue, which keeps a ledger.
 */
import { Logger } from '@nestjs/common';
import { errorMessage } from '../../src/common/errors';
import type { InboundEvent, InboundSink } from '../../src/ports';
import { BoundedMap } from './bounded-map';

/** An event given up on: logged at error level and kept (bounded) for inspection. */
export interface ParkedEvent {
  /** The room (queue) it belongs to, as the bridge names it. */
  readonly room: string;
  readonly platformEventId: string;
  readonly attempts: number;
  /** The last refusal. */
  readonly reason: string;
  readonly at: number;
}

/** Failures remembered per bridge (ids of events still failing). */
const REMEMBERED_FAILURES = 10_000;
/** Parked events kept in memory for inspection. */
const REMEMBERED_PARKED = 1000;

/** Failed attempts per event, and the events given up on. */
export class PoisonLedger {
  private readonly failures = new BoundedMap<string, number>(REMEMBERED_FAILURES);
  readonly parked = new BoundedMap<string, ParkedEvent>(REMEMBERED_PARKED);

  constructor(
    /** Failed attempts after which an event is parked. */
    readonly maxAttempts: number,
    private readonly logger: Logger,
  ) {}

  /** Attempts of `platformEventId` failed so far. */
  attempts(platformEventId: string): number {
    return this.failures.get(platformEventId) ?? 0;
  }

  /**
   * One more failed attempt. Returns 'parked' when that was the last allowed one: the event is then
   * logged at error level with its reason and forgotten by the ledger; else 'retry'.
   * @param note added to the error line (what happens to a parked event on this platform)
   */
  failed(room: string, platformEventId: string, reason: string, note = ''): 'retry' | 'parked' {
    const attempts = this.attempts(platformEventId) + 1;
    if (attempts < this.maxAttempts) {
      this.failures.set(platformEventId, attempts);
      return 'retry';
    }
    this.failures.delete(platformEventId);
    this.parked.set(platformEventId, { room, platformEventId, attempts, reason, at: Date.now() });
    this.logger.error(
      `${room}: event ${platformEventId} parked after ${attempts} failed attempts: ${reason}${note ? `; ${note}` : ''}`,
    );
    return 'parked';
  }

  /** The event was recorded: forget its failures. */
  succeeded(platformEventId: string): void {
    this.failures.delete(platformEventId);
  }
}

export interface InboundDeliveryOptions {
  /** Retries of a refused event after its first attempt (so it is parked after 1 + this failures). */
  readonly retryAttempts: number;
  /** Wait before the first retry; it doubles with every further one. */
  readonly retryInitialMs: number;
  /** Run `fn` after `ms` (the bridge's timers, cancelled when it stops). */
  readonly later: (ms: number, fn: () => void) => void;
  /** True once the bridge stops: no retry is scheduled any more. */
  readonly stopping: () => boolean;
  /** Logger context (the bridge's name). */
  readonly name: string;
  /** Added to the log line of a parked event. */
  readonly parkedNote?: string;
}

/** What the queue tells the bridge about one batch (e.g. to move an archive cursor). */
export interface DeliveryHooks {
  /** The batch went through its first attempt; `ok` when the core recorded every event of it. */
  done?(ok: boolean): void;
  /** A refused event of the batch was recorded on a retry. */
  recovered?(event: InboundEvent): void;
}

/** Ordered delivery to the core, one queue per room, with retry and poison handling. */
export class InboundDelivery {
  private readonly logger: Logger;
  private readonly ledger: PoisonLedger;
  private readonly queues = new Map<string, Promise<void>>();
  /** Rooms with a refused event waiting for its retry: their new events wait in the queue. */
  private readonly retrying = new Map<string, number>();
  /** Retry waits in progress, woken by drain (a stopping bridge cancels its timers). */
  private readonly waits = new Set<() => void>();
  private sink?: InboundSink;

  constructor(private readonly opts: InboundDeliveryOptions) {
    this.logger = new Logger(opts.name);
    this.ledger = new PoisonLedger(opts.retryAttempts + 1, this.logger);
  }

  /** Events given up on (most recent last). */
  get parked(): BoundedMap<string, ParkedEvent> {
    return this.ledger.parked;
  }

  open(sink: InboundSink): void {
    this.sink = sink;
  }

  /**
   * Hand `events` to the sink now, after everything handed over before for `room` (the sink keeps
   * call order per room and records what it is handed together in one batch: a burst of stanzas is
   * one database transaction); their outcomes are then taken in queue order. While a refused event
   * of `room` waits for its retry, they are handed over only after it, in turn.
   */
  deliver(room: string, events: readonly InboundEvent[], hooks: DeliveryHooks = {}): void {
    const held = (this.retrying.get(room) ?? 0) > 0;
    const handed = held ? [] : events.map((event) => this.handOver(event));
    this.enqueue(room, async () => {
      let ok = true;
      for (const [i, event] of events.entries()) {
        const verdict = await (handed[i] ?? this.handOver(event));
        if (!(await this.settle(room, event, verdict, hooks))) ok = false;
      }
      hooks.done?.(ok);
    });
  }

  /** Resolves once everything queued so far for every room was handled, retries included (woken now). */
  async drain(): Promise<void> {
    for (const wake of [...this.waits]) wake();
    await Promise.allSettled([...this.queues.values()]);
  }

  /** Forget the queues (after drain, on stop). */
  clear(): void {
    this.queues.clear();
  }

  private enqueue(room: string, task: () => Promise<void>): void {
    const next = (this.queues.get(room) ?? Promise.resolve()).then(task);
    this.queues.set(room, next);
  }

  /** The sink's verdict on `event`, without throwing: undefined when recorded, else the refusal. */
  private async handOver(event: InboundEvent): Promise<{ refused: unknown } | undefined> {
    try {
      await this.sink!(event);
      return undefined;
    } catch (e) {
      return { refused: e };
    }
  }

  /**
   * What `verdict` means for `event`: forget its failures, or retry it in its place with backoff
   * (the room's queue waits) until it is recorded or parked. True when recorded.
   */
  private async settle(
    room: string,
    event: InboundEvent,
    verdict: { refused: unknown } | undefined,
    hooks: DeliveryHooks,
  ): Promise<boolean> {
    let holding = false;
    try {
      for (;;) {
        const retry = this.ledger.attempts(event.platformEventId);
        if (verdict === undefined) {
          this.ledger.succeeded(event.platformEventId);
          if (retry > 0) hooks.recovered?.(event);
          return true;
        }
        const reason = errorMessage(verdict.refused);
        if (retry === 0) this.logger.warn(`${room}: the core refused ${event.platformEventId}: ${reason}; retrying`);
        else this.logger.warn(`${room}: retry ${retry} of ${event.platformEventId} refused: ${reason}`);
        if (this.opts.stopping()) return false;
        if (this.ledger.failed(room, event.platformEventId, reason, this.opts.parkedNote) === 'parked') return false;
        if (!holding) {
          // Until it is recorded or parked, the room's new events wait (also during the retry itself).
          holding = true;
          this.retrying.set(room, (this.retrying.get(room) ?? 0) + 1);
        }
        await this.wait(this.opts.retryInitialMs * 2 ** retry);
        if (this.opts.stopping()) return false;
        verdict = await this.handOver(event);
      }
    } finally {
      if (holding) {
        const left = (this.retrying.get(room) ?? 1) - 1;
        if (left > 0) this.retrying.set(room, left);
        else this.retrying.delete(room);
      }
    }
  }

  /** Wait `ms` on the bridge's timers; drain wakes it early. */
  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        if (this.waits.delete(wake)) resolve();
      };
      this.waits.add(wake);
      this.opts.later(ms, wake);
    });
  }
}
