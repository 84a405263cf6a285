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
 * silently).
 */
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

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
