# Sourced by the scripts that start the gateway (scripts/start.sh, scripts/quickstart.sh): the
# process's memory settings (docs/RELIABILITY.md, "Memory after a connection storm").
#
# malloc: jemalloc when the machine has it (Debian/Ubuntu: libjemalloc2), as Synapse's synctl does:
# glibc's malloc keeps most of the memory that TLS handshakes freed (fragmented, never trimmed);
# jemalloc gives it back. MIMI_ALLOCATOR=system keeps glibc's malloc; an LD_PRELOAD already set is
# left alone.
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

# V8's heap (node flags, MIMI_NODE_FLAGS; set it empty for V8's defaults). After a storm nearly all
# the RSS left is V8's: its young generation, which V8 grows from 1 MB to 16 MB semi-spaces under
# load and keeps (32 MB), and old-generation pages it keeps committed until a memory-reducing GC,
# which V8 starts only once the process allocates less than about 1 MB/s.
# --heap-growing-percent=20: the next full GC when the old generation has grown by 20 % over what
# the last one kept alive (V8 lets it grow to several times that after a busy period). The young
# generation is left at V8's default: capping it (--max-semi-space-size=1) cost more CPU and did not
# help on its own (docs/RELIABILITY.md, "Memory after a connection storm": npm run bench:storm and
# the rooms bench).
export MIMI_NODE_FLAGS="${MIMI_NODE_FLAGS---heap-growing-percent=20}"
