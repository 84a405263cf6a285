/**
 * Transactions that MLS state writes can join. The MLS groups (src/mls `GroupStore`) write their state through
 * `MlsStorage` (src/mls) and know nothing of database transactions; `RoomTransactions.run` makes
 * the transaction ambient (AsyncLocalStorage), so `DbMlsStorage` writes into it: the MLS state
 * change of an event commits or rolls back together with the event and its outbox rows.
 *
 * A rollback leaves groups holding in-memory state that was never committed, so the MLS keys
 * written are reported to `onRollback` listeners (`MlsGroups` drops the touched groups and
 * identities; they reload from the database on next use).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import { TransactionRunner, type Tx } from './transaction-runner';

interface Ambient {
  readonly tx: Tx;
  /** MLS storage keys written in this transaction. */
  readonly touched: Set<string>;
  /** Set when the transaction is over: work started inside it but running later must not use it. */
  ended: boolean;
}

@Injectable()
export class RoomTransactions {
  private readonly ambient = new AsyncLocalStorage<Ambient>();
  private readonly rollbackListeners: ((keys: ReadonlySet<string>) => void)[] = [];
  /** Transactions under way (their MLS writes are not committed yet). */
  private readonly open = new Set<Ambient>();
  private beginHook?: (tx: Tx) => Promise<void>;

  constructor(private readonly runner: TransactionRunner) {}

  /** Run `work` in a transaction that MLS storage writes join. Rolls back when `work` throws. */
  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const existing = this.ambient.getStore();
    if (existing !== undefined && !existing.ended) return work(existing.tx);
    const touched = new Set<string>();
    let ambient: Ambient | undefined;
    try {
      return await this.runner.run(async (tx) => {
        ambient = { tx, touched, ended: false };
        this.open.add(ambient);
        if (this.beginHook !== undefined) await this.beginHook(tx);
        return this.ambient.run(ambient, () => work(tx));
      });
    } catch (e) {
      if (touched.size > 0) for (const listener of this.rollbackListeners) listener(touched);
      throw e;
    } finally {
      if (ambient !== undefined) {
        ambient.ended = true;
        this.open.delete(ambient);
      }
    }
  }

  /** The transaction of the current call chain, if `run` opened one. */
  current(): Tx | undefined {
    const ambient = this.ambient.getStore();
    return ambient === undefined || ambient.ended ? undefined : ambient.tx;
  }

  /** Record that `key` was written in the current transaction (for rollback handling). */
  touch(key: string): void {
    const ambient = this.ambient.getStore();
    if (ambient !== undefined && !ambient.ended) ambient.touched.add(key);
  }

  /** The MLS storage keys written by transactions not over yet (their state is not committed). */
  *uncommittedKeys(): Iterable<string> {
    for (const ambient of this.open) yield* ambient.touched;
  }

  onRollback(listener: (keys: ReadonlySet<string>) => void): void {
    this.rollbackListeners.push(listener);
  }

  /**
   * `hook` runs first in every transaction `run` opens (not in joined ones); when it throws, the
   * transaction rolls back. The scale-out lease's fencing check (src/rooms/ownership) is the one user.
   */
  onBegin(hook: (tx: Tx) => Promise<void>): void {
    this.beginHook = hook;
  }
}
