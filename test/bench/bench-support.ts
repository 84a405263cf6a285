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

/** What scripts/allocator.sh prints for `names` on this machine (one line each). */
function fromAllocatorScript(names: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const script = join(repoRoot(), 'scripts', 'allocator.sh');
  const print = `printf '${names.map(() => '%s').join('\\n')}' ${names.map((n) => `"\${${n}:-}"`).join(' ')}`;
  const out = spawnSync('bash', ['-c', `. "$0" && ${print}`, script], { env, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${script}: exit ${out.status}: ${out.stderr}`);
  return names.map((_, i) => out.stdout.split('\n')[i] ?? '');
}

/**
 * The environment scripts/allocator.sh gives the gateway on this machine (as `npm start` starts it):
 * LD_PRELOAD and MALLOC_CONF for jemalloc when installed, nothing with `--allocator system` or without it.
 */
export function shippedAllocatorEnv(): Record<string, string> {
  const [preload = '', conf = ''] = fromAllocatorScript(['LD_PRELOAD', 'MALLOC_CONF'], {
    ...process.env,
    ...(allocatorChoice() === 'system' ? { MIMI_ALLOCATOR: 'system' } : {}),
  });
  return preload === '' ? {} : { LD_PRELOAD: preload, ...(conf === '' ? {} : { MALLOC_CONF: conf }) };
}

/**
 * The node flags `npm start` gives the gateway (MIMI_NODE_FLAGS of scripts/allocator.sh: V8's heap
 * settings), or `--node-flags "..."` instead (`--node-flags ""`: V8's defaults).
 */
export function shippedNodeFlags(): string[] {
  const given = argValue('node-flags');
  const flags = given ?? fromAllocatorScript(['MIMI_NODE_FLAGS'], process.env)[0]!;
  return flags.split(' ').filter((f) => f !== '');
}

/** For a bench's header: the allocator and the node flags the gateway processes run with. */
export function describeGatewayAllocator(env: Record<string, string>, nodeFlags: readonly string[]): string {
  const allocator = env['LD_PRELOAD'] ? `jemalloc (${env['LD_PRELOAD']})` : "glibc malloc (the system's)";
  return `${allocator}, node flags: ${nodeFlags.length > 0 ? nodeFlags.join(' ') : "none (V8's defaults)"}`;
}
