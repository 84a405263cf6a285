#!/usr/bin/env bash
# The project's test command (`npm test`): typecheck, lint, unit + integration tests on SQLite
# and a throwaway PostgreSQL cluster, build, then end-to-end tests (gateway processes talking
# MIMI over mutual TLS on loopback). Installs what is missing; safe to run on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

step "typecheck"
npx tsc -p tsconfig.json --noEmit

step "lint"
npm run --silent lint

step "unit and integration tests (SQLite + PostgreSQL)"
npx jest --config test/jest-unit.config.js --ci "$@"

step "build"
npx nest build

if ls test/e2e/*.e2e-spec.ts >/dev/null 2>&1; then
  step "end-to-end tests"
  npx jest --config test/jest-e2e.config.js --runInBand --ci
fi
