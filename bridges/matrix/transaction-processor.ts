import { Logger } from '@nestjs/common';
import { GatewayError, errorMessage } from '../../src/common/errors';
import type { TransactionOutcome } from './appservice-server';
import { asMatrixEvent, type MatrixEvent } from './matrix-event.mapper';

/** Default for MatrixBridgeOptions.maxPoisonAttempts. */
export const DEFAULT_MAX_POISON_ATTEMPTS = 3;
const REMEMBERED_FAILURES = 10_000;

/**
 * Decides what an appservice transaction's answer is, from what happened to each of its events.
 * Every event is handed to `handle` in order; the transaction is acknowledged only when each
 * event was recorded, skipped as malformed, or refused for good:
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
 *   not an outage: after `maxPoisonAttempts` such transactions it is dead-lettered (logged at
 *   error level with its IDs). When no event of the transaction could be recorded (the store
 *   is down), nothing is dead-lettered, however long that lasts: an outage must not lose
 *   messages, and the homeserver keeps the transaction until we take it.
 */
export class TransactionProcessor {
  private readonly logger = new Logger(TransactionProcessor.name);
  private readonly failures = new Map<string, number>();

  constructor(private readonly maxPoisonAttempts: number = DEFAULT_MAX_POISON_ATTEMPTS) {}

  async process(
    txnId: string,
    events: readonly unknown[],
    handle: (ev: MatrixEvent) => Promise<void>,
  ): Promise<TransactionOutcome> {
    const failed: string[] = [];
    let recorded = 0;
    for (const [index, raw] of events.entries()) {
      let ev: MatrixEvent;
      try {
        ev = asMatrixEvent(raw);
      } catch (e) {
        this.logger.warn(`txn ${txnId} event #${index}: malformed, skipped: ${errorMessage(e)}`);
        continue;
      }
      const ids = `txn ${txnId} room ${ev.room_id} event ${ev.event_id} (${ev.type})`;
      try {
        await handle(ev);
        recorded += 1;
        this.failures.delete(ev.event_id);
      } catch (e) {
        if (e instanceof GatewayError && !e.retryable) {
          this.logger.warn(`${ids}: skipped, cannot be recorded: ${errorMessage(e)}`);
          continue;
        }
        this.logger.warn(`${ids}: not recorded, the transaction will be retried: ${errorMessage(e)}`);
        failed.push(ev.event_id);
      }
    }
    if (failed.length === 0) return 'ack';
    if (recorded === 0) return 'retry';
    // Others were recorded: the failures are specific to these events.
    let stillFailing = 0;
    for (const id of failed) {
      const n = (this.failures.get(id) ?? 0) + 1;
      if (n >= this.maxPoisonAttempts) {
        this.logger.error(`txn ${txnId} event ${id}: dead-lettered after ${n} failed attempts`);
        this.failures.delete(id);
      } else {
        this.failures.set(id, n);
        if (this.failures.size > REMEMBERED_FAILURES) {
          const oldest = this.failures.keys().next().value;
          if (oldest !== undefined) this.failures.delete(oldest);
        }
        stillFailing += 1;
      }
    }
    return stillFailing === 0 ? 'ack' : 'retry';
  }
}
