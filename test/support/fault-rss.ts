/**
 * Memory sampling of processes (Linux /proc): the resident set size of a child process, and a
 * sampler that records each named process's RSS every interval, for soak runs and leak checks.
 *
 *   const rss = new RssSampler(1000);
 *   rss.track('gateway a', () => gatewayA.pid);   // the pid may change across restarts
 *   rss.start();
 *   ...
 *   rss.stop();
 *   rss.summary();   // per name: samples, first, peak, last (kB)
 */
import { readFileSync } from 'node:fs';

/**
 * VmRSS of process `pid` in kB, from /proc/<pid>/status; undefined when the process is gone (or
 * has no memory of its own, a zombie).
 */
export function readRssKb(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

export interface RssSeries {
  readonly name: string;
  samples: number;
  /** The first sample (kB). */
  firstKb?: number;
  peakKb: number;
  lastKb?: number;
  /** The pid of the peak sample. */
  peakPid?: number;
}

export class RssSampler {
  private readonly tracked = new Map<string, () => number | undefined>();
  private readonly series = new Map<string, RssSeries>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly intervalMs = 1000) {}

  /** Sample the process `pid()` names under `name` (skipped while it returns undefined). */
  track(name: string, pid: () => number | undefined): void {
    this.tracked.set(name, pid);
    this.series.set(name, { name, samples: 0, peakKb: 0 });
  }

  /** Take one sample of every tracked process now. */
  sample(): void {
    for (const [name, pidOf] of this.tracked) {
      const pid = pidOf();
      if (pid === undefined) continue;
      const kb = readRssKb(pid);
      if (kb === undefined) continue;
      const s = this.series.get(name)!;
      s.samples += 1;
      s.firstKb ??= kb;
      s.lastKb = kb;
      if (kb > s.peakKb) {
        s.peakKb = kb;
        s.peakPid = pid;
      }
    }
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Each tracked process's series so far. */
  summary(): RssSeries[] {
    return [...this.series.values()].map((s) => ({ ...s }));
  }
}
