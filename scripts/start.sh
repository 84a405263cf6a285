#!/usr/bin/env bash
# `npm start -- <options>`: the gateway in the foreground, with jemalloc when the machine has it
# (scripts/allocator.sh). The same as `node bin/mimi-gateway.js start <options>` otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/allocator.sh
. scripts/allocator.sh
exec node bin/mimi-gateway.js start "$@"
