#!/usr/bin/env bash
# A throwaway Prosody for the XMPP bridge's end-to-end tests (Debian's prosody package, run as a
# local process on loopback ports, config and data in DIR; not the system service).
#
#   scripts/prosody.sh install                 install prosody from Debian when missing (root)
#   scripts/prosody.sh start [DIR] [ARGS...]   start it; prints ports and the component secret as JSON
#                                              ARGS: --component-domain D, --account user:password (repeatable)
#   scripts/prosody.sh stop  [DIR]             stop it and delete DIR
#
# DIR defaults to $MIMI_PROSODY_DIR, else ${TMPDIR:-/tmp}/mimi-prosody. The e2e tests
# (test/e2e/xmpp-*.e2e-spec.ts) start their own instances; they only need `install`.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 install | start [DIR] [ARGS...] | stop [DIR]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
cmd=$1
shift

install_prosody() {
  if command -v prosody >/dev/null 2>&1 && command -v prosodyctl >/dev/null 2>&1; then
    # Without prosody-modules (and without root to add it), Prosody runs with XEP-0425 moderation off.
    if [ -e /usr/lib/prosody/modules/mod_muc_moderation/mod_muc_moderation.lua ] || [ "$(id -u)" != 0 ]; then
      return
    fi
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "prosody: not installed; run as root: $0 install" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # prosody-modules: mod_muc_moderation (XEP-0425), for moderator deletes.
  apt-get install -y -qq --no-install-recommends prosody prosody-modules
  # The package may start the system service; the tests use their own instances on free ports.
}

case "$cmd" in
  install) install_prosody ;;
  start)
    install_prosody
    dir=${1:-${MIMI_PROSODY_DIR:-${TMPDIR:-/tmp}/mimi-prosody}}
    [ $# -ge 1 ] && shift
    mkdir -p "$dir"
    npx ts-node --transpile-only -P tsconfig.json test/servers/prosody/cli.ts start "$dir" "$@"
    ;;
  stop)
    dir=${1:-${MIMI_PROSODY_DIR:-${TMPDIR:-/tmp}/mimi-prosody}}
    npx ts-node --transpile-only -P tsconfig.json test/servers/prosody/cli.ts stop "$dir"
    ;;
  *) usage ;;
esac
