import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdSqliteWriteLock } from './fault-db-lock';

describe('holdSqliteWriteLock', () => {
  let dir: string;
  let db: Database.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fault-db-lock-'));
    db = new Database(join(dir, 'gw.sqlite'), { timeout: 100 });
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1)');
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("blocks the gateway's writes (SQLITE_BUSY after its busy timeout) but not its reads, until released", async () => {
    const lock = holdSqliteWriteLock(join(dir, 'gw.sqlite'));
    expect(() => db.exec('INSERT INTO t VALUES (2)')).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
    await lock.release();
    db.exec('INSERT INTO t VALUES (2)');
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 });
  });

  it('releasing twice is harmless', async () => {
    const lock = holdSqliteWriteLock(join(dir, 'gw.sqlite'));
    await lock.release();
    await lock.release();
    db.exec('INSERT INTO t VALUES (3)');
  });
});
