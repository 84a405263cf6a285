import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/e2e-gateways';
/** What the benches share: command-line numbers, percentiles and a plain-text table. */

/** The value after `--name` on the command line, if any. */
export function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * `--name N` as a number (default `fallback`): a whole number unless `fractional`.
 * @throws Error naming the option when the value is negative or not a (whole) number
 */
export function numberArg(name: string, fallback: number, opts: { fractional?: boolean } = {}): number {
  const v = argValue(name);
  const n = v === undefined ? fallback : Number(v);
  if (opts.fractional) {
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: a non-negative number`);
  } else if (!Number.isInteger(n) || n < 0) {
    throw new Error(`--${name}: a whole number`);
  }
  return n;
}

/** Nearest-rank percentile of ascending `sorted` (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

/** A header, a rule and the rows, columns padded to their widest cell; `right(i)` columns right-aligned. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  right: (column: number) => boolean = () => false,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((l) => l[i]!.length)));
  const fmt = (cells: readonly string[]): string =>
    cells.map((c, i) => (right(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)]
    .map((l) => l.trimEnd())
    .join('\n');
}

/** `--allocator system`: glibc's malloc for the gateway processes, instead of jemalloc as `npm start` runs them. */
function allocatorChoice(): 'jemalloc' | 'system' {
  return argValue('allocator') === 'system' ? 'system' : 'jemalloc';
}

/**
 * The environment scripts/allocator.sh gives the gateway on this machine (as `npm start` starts it):
 * LD_PRELOAD and MALLOC_CONF for jemalloc when installed, nothing with `--allocator system` or without it.
 */
export function shippedAllocatorEnv(): Record<string, string> {
  const script = join(repoRoot(), 'scripts', 'allocator.sh');
  const out = spawnSync('bash', ['-c', '. "$0" && printf "%s\\n%s" "${LD_PRELOAD:-}" "${MALLOC_CONF:-}"', script], {
    env: { ...process.env, ...(allocatorChoice() === 'system' ? { MIMI_ALLOCATOR: 'system' } : {}) },
    encoding: 'utf8',
  });
  const [preload = '', conf = ''] = out.stdout.split('\n');
  return preload === '' ? {} : { LD_PRELOAD: preload, ...(conf === '' ? {} : { MALLOC_CONF: conf }) };
}

/** For a bench's header: the allocator the gateway processes run on. */
export function describeGatewayAllocator(env: Record<string, string>): string {
  return env['LD_PRELOAD'] ? `jemalloc (${env['LD_PRELOAD']})` : "glibc malloc (the system's)";
}
