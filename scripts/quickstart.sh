#!/usr/bin/env bash
# Quick start on a fresh machine: install, build, write a development config (embedded SQLite,
# generated development certificates under data/), and run the gateway in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
echo "==> building"
npx nest build
node bin/mimi-gateway.js init --config config.yaml
echo "==> provisioning API token: data/admin.token (send it as 'Authorization: Bearer <token>')"
# shellcheck source=scripts/allocator.sh
. scripts/allocator.sh
echo "==> starting the gateway (Ctrl-C stops it)"
# shellcheck disable=SC2086 # MIMI_NODE_FLAGS is a list of flags
exec node ${MIMI_NODE_FLAGS} bin/mimi-gateway.js start --config config.yaml
