/**
 * Batched ingest (issue 12 item 1): the events a platform hands over together (one appservice
 * transaction, one burst of stanzas) are queued per legacy room, in the order they were handed
 * over, and handled in runs: a run of events that may share a database transaction (`batchable`)
 * goes to `many`, ONE transaction for all of them; any other event goes to `one`, alone, in its
 * place. Each submitter's promise settles only when its event is durable (or refused), so nothing
 * is acknowledged to the platform before it is committed.
 *
 * A failing event must not take its neighbours with it: when `many` reports that events[i] failed
 * (`BatchFailure`; the transaction was rolled back), the events before it are handled again as a
 * batch, events[i] alone through `one` (so it fails, or is parked by the bridge, on its own), and
 * the events after it as a batch. When `many` fails without saying which event (the commit
 * itself), every event of the run is handled alone: that is the unbatched path.
 */
import { errorMessage } from '../common/errors';

/** `many` failed because of one of its events: the whole transaction was rolled back. */
export class BatchFailure extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(`event #${index} of the batch failed: ${errorMessage(cause)}`);
    this.name = 'BatchFailure';
  }
}

export interface IngestHandlers<E> {
  /** May `e` share a transaction with its neighbours? */
  batchable(e: E): boolean;
  /**
   * Handle `events` (two or more, all batchable, same key) in order in ONE transaction; resolve
   * once it is committed. Reject with BatchFailure(i) when events[i] made it fail (after
   * the rollback); any other rejection means nothing of the batch is durable.
   */
  many(key: string, events: readonly E[]): Promise<void>;
  /** Handle one event on its own (its own transaction(s)); resolve once it is durable. */
  one(key: string, e: E): Promise<void>;
}

export interface IngestBatchOptions {
  /** Most events per transaction (default 100: Synapse's largest appservice transaction). */
  readonly maxBatch?: number;
  /** Called with every run handled through `many` (metrics, tests). */
  readonly onBatch?: (key: string, size: number) => void;
}

interface Item<E> {
  readonly event: E;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

const DEFAULT_MAX_BATCH = 100;

/** Per-key queues of events, drained in order, in batches. */
export class IngestBatcher<E> {
  private readonly queues = new Map<string, Item<E>[]>();
  private readonly draining = new Map<string, Promise<void>>();
  private readonly maxBatch: number;

  constructor(
    private readonly handlers: IngestHandlers<E>,
    private readonly opts: IngestBatchOptions = {},
  ) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? DEFAULT_MAX_BATCH);
  }

  /**
   * Queue `event` behind everything submitted before for `key` (synchronously: calls for one key
   * are handled in call order even when the caller does not wait between them). Resolves when the
   * event is durable; rejects with its own failure.
   */
  submit(key: string, event: E): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (queue === undefined) this.queues.set(key, (queue = []));
      queue.push({ event, resolve, reject });
      if (!this.draining.has(key)) {
        // Let the rest of the caller's burst (handed over in the same turn) join the first batch.
        this.draining.set(
          key,
          new Promise<void>((r) => setImmediate(r)).then(() => this.drain(key)),
        );
      }
    });
  }

  /** Events waiting, over every key (a metric). */
  get queued(): number {
    let n = 0;
    for (const queue of this.queues.values()) n += queue.length;
    return n;
  }

  /** Resolves when every queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining.size > 0) await Promise.allSettled([...this.draining.values()]);
  }

  private async drain(key: string): Promise<void> {
    for (;;) {
      const queue = this.queues.get(key);
      if (queue === undefined || queue.length === 0) {
        // In the same turn as the check: a submit after this starts a new drain.
        this.queues.delete(key);
        this.draining.delete(key);
        return;
      }
      const head = queue[0]!;
      if (!this.handlers.batchable(head.event)) {
        queue.shift();
        await this.alone(key, head);
        continue;
      }
      let n = 1;
      while (n < queue.length && n < this.maxBatch && this.handlers.batchable(queue[n]!.event)) n += 1;
      await this.run(key, queue.splice(0, n));
    }
  }

  /** A run of batchable items: one transaction, split around a failing item. */
  private async run(key: string, items: readonly Item<E>[]): Promise<void> {
    if (items.length === 0) return;
    if (items.length === 1) return this.alone(key, items[0]!);
    try {
      await this.handlers.many(
        key,
        items.map((i) => i.event),
      );
      this.opts.onBatch?.(key, items.length);
      for (const i of items) i.resolve();
    } catch (e) {
      if (e instanceof BatchFailure && e.index >= 0 && e.index < items.length) {
        await this.run(key, items.slice(0, e.index));
        await this.alone(key, items[e.index]!);
        await this.run(key, items.slice(e.index + 1));
        return;
      }
      for (const i of items) await this.alone(key, i);
    }
  }

  private async alone(key: string, item: Item<E>): Promise<void> {
    try {
      await this.handlers.one(key, item.event);
      item.resolve();
    } catch (e) {
      item.reject(e instanceof BatchFailure ? e.cause : e);
    }
  }
}
