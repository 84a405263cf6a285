# Sourced by the scripts that start the gateway (scripts/start.sh, scripts/quickstart.sh).
# Runs the gateway with jemalloc when the machine has it (Debian/Ubuntu: libjemalloc2), as Synapse's
# synctl does: glibc's malloc keeps most of the memory that TLS handshakes freed (fragmented, never
# trimmed); jemalloc gives most of it back (docs/RELIABILITY.md, "Memory after a connection storm").
# MIMI_ALLOCATOR=system keeps glibc's malloc; an LD_PRELOAD already set is left alone.
if [ "${MIMI_ALLOCATOR:-jemalloc}" != "system" ] && [ -z "${LD_PRELOAD:-}" ] && [ "$(uname -s)" = "Linux" ]; then
  for lib in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 \
    /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2; do
    if [ -e "$lib" ]; then
      export LD_PRELOAD="$lib"
      # Give freed pages back within a second (jemalloc's default is 10 s), from a background thread.
      export MALLOC_CONF="${MALLOC_CONF:-background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0}"
      break
    fi
  done
fi
