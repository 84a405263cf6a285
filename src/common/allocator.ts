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
