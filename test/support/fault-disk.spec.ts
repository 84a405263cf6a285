import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SmallDisk, SqliteDiskFull } from './fault-disk';

const isRoot = process.getuid?.() === 0;
const MB = 1024 * 1024;

describe('SmallDisk', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'fault-disk-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fills to ENOSPC and frees again as root (a real tmpfs); without root, refuses clearly', async () => {
    if (!isRoot) {
      await expect(SmallDisk.mount(join(dir, 'data'), MB)).rejects.toThrow(/needs root/);
      return;
    }
    const disk = await SmallDisk.mount(join(dir, 'data'), 2 * MB);
    try {
      expect(disk.freeBytes()).toBeLessThanOrEqual(2 * MB);
      writeFileSync(join(disk.dir, 'before'), Buffer.alloc(100_000));
      const filled = await disk.fill();
      expect(filled).toBeGreaterThan(MB);
      expect(disk.freeBytes()).toBe(0);
      expect(() => writeFileSync(join(disk.dir, 'during'), Buffer.alloc(4096))).toThrow(/ENOSPC/);
      await disk.free();
      writeFileSync(join(disk.dir, 'after'), Buffer.alloc(100_000));
    } finally {
      await disk.unmount();
    }
  });
});

describe('SqliteDiskFull', () => {
  let dir: string;
  let db: Database.Database;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fault-disk-sqlite-'));
    db = new Database(join(dir, 'db.sqlite'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (v BLOB)');
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes a write that needs a new page fail with SQLITE_FULL until freed; nothing of it is stored', async () => {
    const disk = new SqliteDiskFull((sql) => Promise.resolve(db.prepare(sql).all()));
    const pages = await disk.fill();
    expect(pages).toBe((db.pragma('page_count') as { page_count: number }[])[0]!.page_count);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    expect(() => insert.run(Buffer.alloc(20_000, 1))).toThrow(expect.objectContaining({ code: 'SQLITE_FULL' }));
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
    expect(await disk.free()).toBeGreaterThan(pages);
    insert.run(Buffer.alloc(20_000, 1));
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
  });
});
