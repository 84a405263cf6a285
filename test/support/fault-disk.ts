/**
 * A full disk for reliability tests: a small tmpfs mounted on a data folder (root only: mount(8)),
 * which `fill()` fills to the last byte so that the gateway's next write fails with ENOSPC, and
 * `free()` empties again.
 *
 *   const disk = await SmallDisk.mount(join(dir, 'data'), 4 * 1024 * 1024);
 *   // put the gateway's SQLite database (and journal) in disk.dir, start it
 *   await disk.fill();   // ENOSPC from now on
 *   await disk.free();
 *   await disk.unmount();
 *
 * Without root there is no way to get a size-limited filesystem (a loop device needs root too):
 * `mount` rejects with an error saying so, and the caller decides (a test reports it, never passes
 * silently). `SqliteDiskFull` below needs no root: it gives the gateway's SQLite connection the
 * error a full disk gives (SQLITE_FULL).
 */
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { PG_CLUSTER_SCRIPT } from './pg-env';

const run = promisify(execFile);
const FILLER = '.fault-disk-filler';

export class SmallDisk {
  private constructor(
    readonly dir: string,
    readonly sizeBytes: number,
  ) {}

  /**
   * Mount a tmpfs of `sizeBytes` on `dir` (created if missing).
   * @throws Error when not root or when mount fails (the reason in the message).
   */
  static async mount(dir: string, sizeBytes: number): Promise<SmallDisk> {
    if (process.getuid?.() !== 0) {
      throw new Error(`SmallDisk needs root to mount a tmpfs on ${dir} (running as uid ${process.getuid?.()})`);
    }
    mkdirSync(dir, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir]);
    return new SmallDisk(dir, sizeBytes);
  }

  /** Free bytes left. */
  freeBytes(): number {
    const s = statfsSync(this.dir);
    return Number(s.bavail) * Number(s.bsize);
  }

  /** Write a filler file until the filesystem refuses (ENOSPC). Resolves with the bytes written. */
  fill(): Promise<number> {
    const fd = openSync(join(this.dir, FILLER), 'a');
    const block = Buffer.alloc(64 * 1024, 0xaa);
    let written = 0;
    try {
      for (;;) {
        try {
          written += writeSync(fd, block);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
      // The last partial block: byte by byte chunks until nothing fits.
      for (let size = block.length / 2; size >= 1; size = Math.floor(size / 2)) {
        try {
          written += writeSync(fd, block, 0, size);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        }
      }
    } finally {
      closeSync(fd);
    }
    return Promise.resolve(written);
  }

  /** Remove the filler: the space is back. */
  free(): Promise<void> {
    rmSync(join(this.dir, FILLER), { force: true });
    return Promise.resolve();
  }

  /** Unmount (lazily, so that a process still holding a file does not block it); the contents are gone. */
  async unmount(): Promise<void> {
    await run('umount', ['-l', this.dir]);
  }
}

/**
 * A throwaway PostgreSQL cluster (scripts/pg-cluster.sh) whose whole data folder, WAL included,
 * is on a SmallDisk: `fill()` leaves it no byte, so the next write that needs a new block fails
 * with "could not extend file …: No space left on device". Root only, as SmallDisk.
 */
export class PostgresOnSmallDisk {
  private constructor(
    readonly url: string,
    private readonly disk: SmallDisk,
  ) {}

  static async start(dir: string, sizeBytes: number): Promise<PostgresOnSmallDisk> {
    const disk = await SmallDisk.mount(dir, sizeBytes);
    try {
      const { stdout } = await run('bash', [PG_CLUSTER_SCRIPT, 'start', dir]);
      return new PostgresOnSmallDisk(stdout.trim(), disk);
    } catch (e) {
      await disk.unmount();
      throw e;
    }
  }

  /**
   * Fill the disk. First a checkpoint and a switch to a fresh WAL segment (16 MiB, allocated
   * now), so that what follows fails on data files, as a full disk does, and not on a WAL
   * segment the server could not create (which it answers with a PANIC and a crash).
   */
  async fill(): Promise<number> {
    const admin = new Client({ connectionString: this.url });
    await admin.connect();
    try {
      for (const sql of ['CHECKPOINT', 'SELECT pg_switch_wal()', 'CHECKPOINT']) await admin.query(sql);
    } finally {
      await admin.end();
    }
    return this.disk.fill();
  }

  free(): Promise<void> {
    return this.disk.free();
  }

  async stop(): Promise<void> {
    await run('bash', [PG_CLUSTER_SCRIPT, 'halt', this.disk.dir, 'immediate']).catch(() => undefined);
    await this.disk.unmount();
  }
}

/** SQLite's largest max_page_count (the limit is a 32-bit page number). */
const SQLITE_MAX_PAGE_COUNT = 4294967294;

/**
 * A full disk as the gateway's SQLite connection sees it, without root: the connection's
 * `max_page_count` is pinned to the database's current size, so the next write that needs a new
 * page fails with SQLITE_FULL ("database or disk is full"), which is the error a full filesystem
 * gives too. Writes that fit in pages the database already has still succeed, as on a real disk
 * whose last block is not quite used up. `free()` lifts the limit.
 *
 * The pragma is per connection: `query` must run on the connection the gateway writes with (a
 * better-sqlite3 DataSource has exactly one).
 *
 *   const disk = new SqliteDiskFull((sql) => app.get(DataSource).query(sql));
 *   await disk.fill();   // SQLITE_FULL for anything that grows the database
 *   await disk.free();
 */
export class SqliteDiskFull {
  constructor(private readonly query: (sql: string) => Promise<unknown>) {}

  /** Pin the database to its current size; resolves with that size in pages. */
  async fill(): Promise<number> {
    // A value below the current size is raised to it by SQLite itself.
    return this.limit(1);
  }

  /** Lift the limit; resolves with the new maximum in pages. */
  async free(): Promise<number> {
    return this.limit(SQLITE_MAX_PAGE_COUNT);
  }

  private async limit(pages: number): Promise<number> {
    const rows = (await this.query(`PRAGMA max_page_count = ${pages}`)) as { max_page_count: number }[];
    const now = rows[0]?.max_page_count;
    if (typeof now !== 'number') throw new Error(`PRAGMA max_page_count answered ${JSON.stringify(rows)}`);
    return now;
  }
}
