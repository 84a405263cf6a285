#!/usr/bin/env bash
# `npm start -- <options>`: the gateway in the foreground, with the memory settings of
# scripts/allocator.sh (jemalloc when the machine has it, V8 heap flags). The same as
# `node bin/mimi-gateway.js start <options>` otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/allocator.sh
. scripts/allocator.sh
# shellcheck disable=SC2086 # MIMI_NODE_FLAGS is a list of flags
exec node ${MIMI_NODE_FLAGS} bin/mimi-gateway.js start "$@"
