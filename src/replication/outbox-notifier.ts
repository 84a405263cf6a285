import { Injectable } from '@nestjs/common';
import type { Tx } from '../persistence';

/** Who wants to hear that new outbox rows were committed: the delivery workers (OutboxWorker.wake). */
export interface OutboxWakeListener {
  /** Look for due rows now rather than at the next poll. Must not throw. */
  wake(): void;
}

/**
 * In-process wake-up for delivery workers. OutboxService calls `wakeAfterCommit(tx)` when it
 * stored rows, and the transaction rings `notify` once it commits (never on rollback), so the
 * rows go out at once instead of at the next poll. Rows written by other processes are found by
 * polling (`outbox.pollIntervalMs`).
 *
 * The path, for "go to definition": OutboxService.enqueueAll → wakeAfterCommit → Tx.afterCommit
 * (TransactionRunner runs it after COMMIT) → notify → OutboxWakeListener.wake → OutboxWorker.wake.
 */
@Injectable()
export class OutboxNotifier {
  private readonly listeners = new Set<OutboxWakeListener>();

  /** Register a worker. @returns a function that unregisters it */
  register(listener: OutboxWakeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `register` for a plain function (tests). @returns a function that unsubscribes */
  subscribe(listener: () => void): () => void {
    return this.register({ wake: listener });
  }

  /** Wake the workers once `tx` has committed. */
  wakeAfterCommit(tx: Tx): void {
    tx.afterCommit(() => this.notify());
  }

  /** Wake the workers now. */
  notify(): void {
    for (const listener of this.listeners) listener.wake();
  }
}
