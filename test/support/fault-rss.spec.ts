import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { RssSampler, readRssKb } from './fault-rss';

describe('readRssKb', () => {
  it("reads a live process's resident set from /proc", () => {
    const kb = readRssKb(process.pid)!;
    // /proc and process.memoryUsage() agree (both sampled at nearly the same moment).
    expect(Math.abs(kb * 1024 - process.memoryUsage().rss)).toBeLessThan(64 * 1024 * 1024);
    expect(kb).toBeGreaterThan(1024);
  });

  it('is undefined for a process that is gone', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    await once(child, 'exit');
    expect(readRssKb(child.pid!)).toBeUndefined();
  });
});

describe('RssSampler', () => {
  it("follows a child process's growth and keeps its peak", async () => {
    // The child allocates 64 MB (touched, so resident) when told to, then reports.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `process.stdin.once('data', () => { globalThis.keep = Buffer.alloc(64 * 1024 * 1024, 1); console.log('grown'); });
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      const rss = new RssSampler(50);
      rss.track('child', () => child.pid);
      rss.track('not started', () => undefined);
      rss.sample();
      const before = rss.summary().find((s) => s.name === 'child')!;
      child.stdin.write('grow\n');
      await once(child.stdout, 'data');
      rss.sample();
      const [after, absent] = rss.summary();
      expect(after!.samples).toBe(2);
      expect(after!.firstKb).toBe(before.firstKb);
      expect(after!.peakKb - before.firstKb!).toBeGreaterThanOrEqual(60 * 1024);
      expect(after!.lastKb).toBe(after!.peakKb);
      expect(after!.peakPid).toBe(child.pid);
      expect(absent).toEqual({ name: 'not started', samples: 0, peakKb: 0 });
    } finally {
      child.kill('SIGKILL');
    }
  });
});
