import { Injectable } from '@nestjs/common';

/**
 * In-process wake-up for delivery workers: OutboxService rings it after a transaction that
 * stored rows commits, so they go out at once instead of at the next poll. Rows written by
 * other processes are found by polling (`outbox.pollIntervalMs`).
 */
@Injectable()
export class OutboxNotifier {
  private readonly listeners = new Set<() => void>();

  /** @returns a function that unsubscribes */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    for (const listener of this.listeners) listener();
  }
}
