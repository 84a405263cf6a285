/**
 * Database lock contention for reliability tests: a second connection that holds a write lock on
 * the gateway's database until released, so that the gateway's writes wait (SQLite's busy_timeout,
 * PostgreSQL's lock queue) or fail, and must not lose anything.
 *
 *   const lock = holdSqliteWriteLock(gateway.databaseFile);   // BEGIN IMMEDIATE on a 2nd connection
 *   ...                                                          // the gateway's writers are blocked
 *   lock.release();
 *
 *   const pgLock = await holdPgTableLock(url, 'outbox');        // LOCK TABLE … IN EXCLUSIVE MODE
 *   await pgLock.release();
 *   const advisory = await holdPgAdvisoryLock(url, 42);         // pg_advisory_lock(42)
 */
import Database from 'better-sqlite3';
import { Client } from 'pg';

export interface HeldLock {
  /** When the lock was taken (ms since the epoch). */
  readonly since: number;
  release(): Promise<void>;
}

/**
 * Open `file` on a second connection and take SQLite's write lock (`BEGIN IMMEDIATE`): other
 * connections can read (WAL) but every writer gets SQLITE_BUSY, after its busy_timeout.
 */
export function holdSqliteWriteLock(file: string): HeldLock {
  const db = new Database(file, { timeout: 10_000 });
  db.exec('BEGIN IMMEDIATE');
  return {
    since: Date.now(),
    release: () => {
      if (db.open) {
        db.exec('ROLLBACK');
        db.close();
      }
      return Promise.resolve();
    },
  };
}

/** `pg_advisory_lock(key)` on its own connection (for code that serializes on advisory locks). */
export async function holdPgAdvisoryLock(url: string, key: number): Promise<HeldLock> {
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('SELECT pg_advisory_lock($1)', [key]);
  return {
    since: Date.now(),
    release: async () => {
      await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
      await client.end();
    },
  };
}

/**
 * `LOCK TABLE <table> IN <mode> MODE` inside an open transaction on its own connection: with the
 * default EXCLUSIVE mode, others can read the table but every INSERT/UPDATE/DELETE waits.
 */
export async function holdPgTableLock(
  url: string,
  table: string,
  mode: 'EXCLUSIVE' | 'ACCESS EXCLUSIVE' | 'ROW EXCLUSIVE' = 'EXCLUSIVE',
): Promise<HeldLock> {
  if (!/^[a-z_][a-z0-9_]*$/i.test(table)) throw new Error(`not a plain table name: ${table}`);
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`LOCK TABLE "${table}" IN ${mode} MODE`);
  } catch (e) {
    await client.end();
    throw e;
  }
  return {
    since: Date.now(),
    release: async () => {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end();
    },
  };
}
