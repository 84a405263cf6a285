#!/usr/bin/env bash
# The fault-injection soak (issue 14): `npm run soak -- --minutes N --seed S`.
# Builds the gateway (the soak runs compiled gateways), then runs test/soak/soak.ts: a real Synapse
# and Prosody, three gateways (A: Matrix on SQLite, B: XMPP on PostgreSQL, C: memory platform on
# PostgreSQL), seeded faults for N minutes, then the checks. Exit code 1 when a check fails.
# Needs Synapse (scripts/synapse.sh install), Prosody and PostgreSQL, as the e2e tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
npx nest build >/dev/null
exec node --enable-source-maps dist/test/soak/soak.js "$@"
