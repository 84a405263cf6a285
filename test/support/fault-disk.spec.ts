import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SmallDisk } from './fault-disk';

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
