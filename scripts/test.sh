#!/usr/bin/env bash
# The project's test command (`npm test`): typecheck, lint, unit tests, integration tests (on
# SQLite and a throwaway PostgreSQL cluster), build, then end-to-end tests (gateway processes talking
# MIMI over mutual TLS on loopback). Installs what is missing; safe to run on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

# The openmls interop peer (test/interop): built when missing or older than its sources. Without
# cargo the interop specs skip (and fail under CI, whose .ci/run builds the peer first).
peer_dir=test/interop/openmls-peer
peer_stale=0
for bin in "$peer_dir/target/bin/openmls-peer" "$peer_dir/target/bin/openmls-peer-ext"; do
  if [ ! -x "$bin" ] || [ -n "$(find "$peer_dir/Cargo.toml" "$peer_dir/Cargo.lock" "$peer_dir/src" -newer "$bin" 2>/dev/null | head -n 1)" ]; then
    peer_stale=1
  fi
done
if [ "$peer_stale" = 1 ]; then
  if command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ]; then
    step "openmls interop peer (cargo build)"
    bash test/interop/build.sh
  else
    echo "warning: cargo not found; the openmls interop peer is not built (see test/interop/README.md)" >&2
  fi
fi

step "typecheck"
npx tsc -p tsconfig.json --noEmit

step "lint"
npm run --silent lint

# Arguments (`npm test -- <pattern>`) go to both tiers; a tier where nothing matches passes.
step "unit tests (no database server, no network)"
npx jest --config test/jest-unit.config.js --ci --passWithNoTests "$@"

step "integration tests (SQLite + a throwaway PostgreSQL, the openmls interop peer)"
npx jest --config test/jest-integration.config.js --ci --passWithNoTests "$@"

step "build"
npx nest build

if ls test/e2e/*.e2e-spec.ts >/dev/null 2>&1; then
  step "end-to-end tests"
  npx jest --config test/jest-e2e.config.js --runInBand --ci
fi
