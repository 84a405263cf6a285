/**
 * Which malloc the process runs on, for the start-up log. scripts/start.sh (npm start) and
 * scripts/quickstart.sh preload jemalloc when the machine has it (scripts/allocator.sh): with glibc's
 * malloc most of the memory freed after a storm of TLS handshakes stays with the process
 * (docs/RELIABILITY.md, "Memory after a connection storm").
 */
export function describeAllocator(env: NodeJS.ProcessEnv = process.env, platform: string = process.platform): string {
  const preload = env['LD_PRELOAD'] ?? '';
  if (/jemalloc/.test(preload)) return `memory allocator: jemalloc (${preload})`;
  if (preload !== '') return `memory allocator: LD_PRELOAD=${preload}`;
  if (platform !== 'linux') return 'memory allocator: the platform default';
  return (
    'memory allocator: glibc malloc (keeps memory after connection storms; install libjemalloc2 ' +
    'and start with `npm start`, or set LD_PRELOAD to libjemalloc.so.2)'
  );
}

/** The node flags of V8's heap that scripts/allocator.sh sets (MIMI_NODE_FLAGS), or others of that family. */
const HEAP_FLAG =
  /^--(max-semi-space-size|min-semi-space-size|heap-growing-percent|optimize-for-size|max-old-space-size)\b/;

/**
 * The V8 heap flags the process runs with, for the start-up log: `npm start` gives the gateway a
 * small young generation (scripts/allocator.sh); run without it, V8 grows that to 32 MB under load
 * and keeps it, and RSS stays up after a connection storm (docs/RELIABILITY.md).
 */
export function describeHeapFlags(execArgv: readonly string[] = process.execArgv): string {
  const flags = execArgv.filter((a) => HEAP_FLAG.test(a));
  if (flags.length > 0) return `V8 heap flags: ${flags.join(' ')}`;
  return "V8 heap flags: none (V8's defaults; `npm start` sets MIMI_NODE_FLAGS from scripts/allocator.sh)";
}
