import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource, QueryRunner } from 'typeorm';
import { ErrorCode, GatewayError, errorMessage } from '../common/errors';
import { SqlDialect, SqlResult, dialectOf, runSql } from './sql';

/**
 * One open database transaction, handed to repository methods so that several writes commit or
 * roll back together (e.g. a room event and its outbox rows). Opaque outside src/persistence.
 */
export interface Tx {
  /**
   * Run `callback` after the transaction has committed; never when it rolls back. Used to wake
   * workers for rows that just became visible. A throwing callback is logged, not rethrown: the
   * commit has already happened.
   */
  afterCommit(callback: () => void): void;
}

/** The implementation behind `Tx`; only repositories unwrap it (see `sqlOf`). */
export class SqlTx implements Tx {
  private readonly callbacks: (() => void)[] = [];
  private open = true;

  constructor(
    private readonly queryRunner: QueryRunner,
    readonly dialect: SqlDialect,
  ) {}

  afterCommit(callback: () => void): void {
    this.assertOpen();
    this.callbacks.push(callback);
  }

  query(sql: string, params: readonly unknown[] = []): Promise<SqlResult> {
    this.assertOpen();
    return runSql(this.queryRunner, this.dialect, sql, params);
  }

  /** @internal Called by TransactionRunner when the transaction ends. */
  close(): readonly (() => void)[] {
    this.open = false;
    return this.callbacks;
  }

  private assertOpen(): void {
    if (!this.open) {
      throw new GatewayError(ErrorCode.Internal, 'transaction already ended: a Tx must not outlive its run() callback');
    }
  }
}

/** Unwraps a Tx for a repository. */
export function sqlOf(tx: Tx): SqlTx {
  if (!(tx instanceof SqlTx)) throw new GatewayError(ErrorCode.Internal, 'not a Tx from TransactionRunner.run');
  return tx;
}

/**
 * SQLite (better-sqlite3) has one connection per DataSource, and TypeORM shares one query runner
 * for it: two overlapping `DataSource.transaction()` calls would silently nest as savepoints of
 * each other. Transactions on SQLite therefore take turns, one queue per DataSource.
 */
const sqliteQueues = new WeakMap<DataSource, { tail: Promise<void> }>();

function takeTurn(dataSource: DataSource): Promise<() => void> {
  let queue = sqliteQueues.get(dataSource);
  if (!queue) {
    queue = { tail: Promise.resolve() };
    sqliteQueues.set(dataSource, queue);
  }
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  const previous = queue.tail;
  queue.tail = previous.then(() => done);
  return previous.then(() => release);
}

/**
 * The unit of work: `run(async (tx) => ...)` opens a transaction, passes it to the callback and
 * commits when the callback resolves (rolls back when it throws). Repository methods take the
 * `tx` so that their writes join it.
 */
@Injectable()
export class TransactionRunner {
  private readonly logger = new Logger(TransactionRunner.name);
  private readonly dialect: SqlDialect;
  /** Which DataSource the current async call chain holds a transaction on. */
  private static readonly inside = new AsyncLocalStorage<DataSource>();

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  /**
   * @throws GatewayError (Internal) when called from inside another `run` on the same database:
   *   pass the outer `tx` on instead. On SQLite the inner call would wait for the outer one
   *   forever; on PostgreSQL its writes would commit separately.
   * @throws whatever `work` or the database throws; the transaction is rolled back then.
   */
  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    if (TransactionRunner.inside.getStore() === this.dataSource) {
      throw new GatewayError(ErrorCode.Internal, 'TransactionRunner.run called inside a transaction: pass the tx on');
    }
    const release = this.dialect === 'sqlite' ? await takeTurn(this.dataSource) : undefined;
    let tx: SqlTx | undefined;
    let result: T;
    try {
      result = await TransactionRunner.inside.run(this.dataSource, () =>
        this.dataSource.transaction(async (manager) => {
          if (!manager.queryRunner) throw new GatewayError(ErrorCode.Internal, 'transaction without a query runner');
          tx = new SqlTx(manager.queryRunner, this.dialect);
          return work(tx);
        }),
      );
    } catch (e) {
      tx?.close();
      throw e;
    } finally {
      release?.();
    }
    for (const callback of tx?.close() ?? []) {
      try {
        callback();
      } catch (e) {
        this.logger.error(`afterCommit callback failed: ${errorMessage(e)}`);
      }
    }
    return result;
  }
}
