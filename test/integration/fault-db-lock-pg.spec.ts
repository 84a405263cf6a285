/**
 * The fault harness's PostgreSQL lock contention (test/support/fault-db-lock.ts) against the
 * throwaway cluster: a held table lock makes another connection's write wait until released; an
 * advisory lock makes another taker wait.
 */
import { Client } from 'pg';
import { holdPgAdvisoryLock, holdPgTableLock } from '../support/fault-db-lock';
import { TEST_PG_URL_ENV } from '../support/pg-env';

const url = (): string => {
  const u = process.env[TEST_PG_URL_ENV];
  if (!u) throw new Error(`${TEST_PG_URL_ENV} is not set (the integration tier's global setup starts the cluster)`);
  return u;
};

describe('PostgreSQL lock contention (fault-db-lock)', () => {
  let other: Client;
  const table = `fault_lock_${process.pid}`;

  beforeAll(async () => {
    other = new Client({ connectionString: url() });
    await other.connect();
    await other.query(`CREATE TABLE IF NOT EXISTS ${table} (v integer)`);
  });

  afterAll(async () => {
    await other.query(`DROP TABLE IF EXISTS ${table}`);
    await other.end();
  });

  it('a table lock holds back writes (reads pass) until released', async () => {
    const lock = await holdPgTableLock(url(), table);
    await other.query(`SET statement_timeout = 300`);
    await expect(other.query(`INSERT INTO ${table} VALUES (1)`)).rejects.toThrow(/statement timeout/);
    expect((await other.query(`SELECT count(*)::int AS n FROM ${table}`)).rows).toEqual([{ n: 0 }]);
    let inserted = false;
    await other.query(`SET statement_timeout = 0`);
    const write = other.query(`INSERT INTO ${table} VALUES (2)`).then(() => (inserted = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(inserted).toBe(false);
    await lock.release();
    await write;
    expect((await other.query(`SELECT v FROM ${table}`)).rows).toEqual([{ v: 2 }]);
  });

  it('an advisory lock makes another taker wait', async () => {
    const lock = await holdPgAdvisoryLock(url(), 4242);
    expect((await other.query('SELECT pg_try_advisory_lock(4242) AS got')).rows).toEqual([{ got: false }]);
    await lock.release();
    expect((await other.query('SELECT pg_try_advisory_lock(4242) AS got')).rows).toEqual([{ got: true }]);
    await other.query('SELECT pg_advisory_unlock(4242)');
  });

  it('refuses a table name that is not a plain identifier', async () => {
    await expect(holdPgTableLock(url(), 'x; DROP TABLE y')).rejects.toThrow(/not a plain table name/);
  });
});
