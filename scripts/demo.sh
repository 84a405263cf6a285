#!/usr/bin/env bash
# `npm run demo`: the gateway's main job in one command, on a fresh machine. Installs what is
# missing (npm dependencies, the pinned Synapse in .test-servers/, Prosody from Debian's packages),
# builds when the sources are newer than dist/, then runs test/demo/demo.ts: Synapse, Prosody and
# two gateways on loopback ports, a Matrix room and a MUC linked through MIMI, a scripted
# conversation both ways, then instructions to join in with any Matrix or XMPP client.
#
#   npm run demo              stays up until Ctrl-C, which stops everything it started
#   npm run demo -- --once    stops after the transcript (MIMI_DEMO_ONCE=1 does the same)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '==> %s\n' "$*"; }

# npm ci only when node_modules is missing, or the lock file changed and the tree no longer matches it.
if [ ! -d node_modules ] || { [ package-lock.json -nt node_modules/.package-lock.json ] && ! npm ls --depth=0 >/dev/null 2>&1; }; then
  step "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
if [ ! -f dist/src/cli/main.js ] || [ -n "$(find src bridges registration test/support -name '*.ts' -newer dist/src/cli/main.js 2>/dev/null | head -n 1)" ]; then
  step "building"
  npx nest build
fi
step "Synapse (pinned, in .test-servers/) and Prosody (Debian package): installed when missing"
# Synapse's virtualenv needs Python's venv module (Debian: python3-venv), as in .ci/run.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "demo: Python's venv module is missing; run as root, or: sudo apt-get install python3-venv" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
fi
bash scripts/synapse.sh install
bash scripts/prosody.sh install
exec npx ts-node --transpile-only -P tsconfig.json test/demo/demo.ts "$@"
