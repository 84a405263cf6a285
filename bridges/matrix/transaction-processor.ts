import { Logger } from '@nestjs/common';
import { GatewayError, errorMessage } from '../../src/common/errors';
import type { TransactionOutcome } from './appservice-server';
import { PoisonLedger } from '../kit/inbound-delivery';
import { asMatrixEvent, type MatrixEvent } from './matrix-event.mapper';

/** Default for MatrixBridgeOptions.maxPoisonAttempts. */
const DEFAULT_MAX_POISON_ATTEMPTS = 3;

/**
 * Decides what an appservice transaction's answer is, from what happened to each of its events.
 * Every event is handed to `handle` in order, which hands what it records to the core without
 * waiting (`TransactionRecorder.defer`), so the core can record them in one batch; the
 * transaction is acknowledged only when each event was recorded (durably), skipped as malformed,
 * or refused for good:
 *
 * - malformed event, or `handle` rejects with a non-retryable GatewayError: logged with its IDs
 *   and skipped. Answering 4xx/5xx for it would block every later transaction behind it, since
 *   Synapse sends one transaction at a time and backs off up to 512 s (RELIABILITY §1.2 duty 2).
 * - `handle` rejects with a retryable (or unknown) error: the remaining events are still handed
 *   over (the port's contract: one event's trouble is its own), then the transaction is
 *   answered 503 and the homeserver sends it again, same ID, same events. Events recorded the
 *   first time come back and the core recognises them by platformEventId, so nothing is lost
 *   and nothing doubled, at the price of the failed event arriving after its successors.
 * - An event that keeps failing retryably while its neighbours are recorded is a poison event,
 *   not an outage: after `maxPoisonAttempts` such transactions it is dead-lettered: parked in the
 *   kit's PoisonLedger (bridges/kit/inbound-delivery.ts), logged at error level with its IDs and
 *   reason, and acknowledged. When no event of the transaction could be recorded (the store
 *   is down), nothing is dead-lettered, however long that lasts: an outage must not lose
 *   messages, and the homeserver keeps the transaction until we take it.
 */
/**
 * Given to `handle` with each event: the sink's promises of the events it hands to the core. The
 * core batches what is handed over without waiting (one database transaction per room, issue 12),
 * so `handle` defers them instead of awaiting each; the event counts as recorded once they resolve.
 */
export interface TransactionRecorder {
  defer(recorded: Promise<void>): void;
  /**
   * Wait until everything deferred so far in this transaction settled: before work that acts on the
   * core's state (bridge commands, the bot's invites, room lifecycle), so it comes after them.
   */
  flush(): Promise<void>;
}

export class TransactionProcessor {
  private readonly logger = new Logger(TransactionProcessor.name);
  private readonly ledger: PoisonLedger;

  constructor(maxPoisonAttempts: number = DEFAULT_MAX_POISON_ATTEMPTS) {
    this.ledger = new PoisonLedger(maxPoisonAttempts, this.logger);
  }

  /** Events dead-lettered so far (bounded). */
  get parked(): PoisonLedger['parked'] {
    return this.ledger.parked;
  }

  async process(
    txnId: string,
    events: readonly unknown[],
    handle: (ev: MatrixEvent, recorder: TransactionRecorder) => Promise<void>,
  ): Promise<TransactionOutcome> {
    const failed: { ev: MatrixEvent; reason: string }[] = [];
    let recorded = 0;
    const outcome = (ev: MatrixEvent, e?: unknown): void => {
      if (e === undefined) {
        recorded += 1;
        this.ledger.succeeded(ev.event_id);
        return;
      }
      const ids = `txn ${txnId} room ${ev.room_id} event ${ev.event_id} (${ev.type})`;
      if (e instanceof GatewayError && !e.retryable) {
        this.logger.warn(`${ids}: skipped, cannot be recorded: ${errorMessage(e)}`);
        return;
      }
      this.logger.warn(`${ids}: not recorded, the transaction will be retried: ${errorMessage(e)}`);
      failed.push({ ev, reason: errorMessage(e) });
    };
    const everything: Promise<unknown>[] = [];
    const handed: { ev: MatrixEvent; recorded: Promise<unknown> }[] = [];
    for (const [index, raw] of events.entries()) {
      let ev: MatrixEvent;
      try {
        ev = asMatrixEvent(raw);
      } catch (e) {
        this.logger.warn(`txn ${txnId} event #${index}: malformed, skipped: ${errorMessage(e)}`);
        continue;
      }
      const own: Promise<void>[] = [];
      const recorder: TransactionRecorder = {
        defer: (p) => {
          p.catch(() => undefined); // awaited below
          own.push(p);
          everything.push(p);
        },
        flush: async () => void (await Promise.allSettled(everything)),
      };
      try {
        await handle(ev, recorder);
        handed.push({ ev, recorded: Promise.all(own) });
      } catch (e) {
        outcome(ev, e ?? new Error('undefined'));
      }
    }
    // Acknowledged (by returning) only once every event handed over is durable or refused.
    for (const { ev, recorded: done } of handed) {
      try {
        await done;
        outcome(ev);
      } catch (e) {
        outcome(ev, e ?? new Error('undefined'));
      }
    }
    if (failed.length === 0) return 'ack';
    if (recorded === 0) return 'retry';
    // Others were recorded: the failures are specific to these events.
    let stillFailing = 0;
    for (const { ev, reason } of failed) {
      const room = `txn ${txnId} room ${ev.room_id}`;
      if (this.ledger.failed(room, ev.event_id, reason, 'dead-lettered') === 'retry') stillFailing += 1;
    }
    return stillFailing === 0 ? 'ack' : 'retry';
  }
}
