#!/usr/bin/env bash
# A throwaway Synapse homeserver for tests: a PINNED matrix-synapse from PyPI in a git-ignored
# virtualenv, one homeserver per directory (SQLite, loopback only, no federation, no rate limits,
# shared-secret registration for test users, our appservice registration file).
#
#   scripts/synapse.sh install                      install the pinned version (no-op when present)
#   scripts/synapse.sh start DIR REGISTRATION.yaml  write DIR/homeserver.yaml, start, wait until
#                                                   /_matrix/client/versions answers; prints the base URL
#   scripts/synapse.sh url   DIR                    base URL of the homeserver running in DIR
#   scripts/synapse.sh stop  DIR                    stop it (no-op when not running); DIR is kept
#
# Environment: SYNAPSE_VENV (default <repo>/.test-servers/synapse-venv), SYNAPSE_PYTHON (default
# python3, which must be >= 3.10), SYNAPSE_SERVER_NAME (default synapse.test), SYNAPSE_PORT (default:
# a free loopback port), SYNAPSE_SHARED_SECRET (default: random; written to DIR/shared-secret),
# SYNAPSE_RC_MESSAGE (the rc_message limit as a YAML flow mapping, default: none to speak of; e.g.
# '{per_second: 0.5, burst_count: 2}' for rate-limit tests), SYNAPSE_OPEN_REGISTRATION=1 (anyone may
# register any free localpart through the client-server API, without verification, even one
# beginning with `_`: only an appservice's exclusive namespace then keeps a name from humans).
set -euo pipefail

SYNAPSE_VERSION=1.163.2

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${SYNAPSE_VENV:-$ROOT/.test-servers/synapse-venv}
PY=${SYNAPSE_PYTHON:-python3}

usage() {
  echo "usage: $0 install | start DIR REGISTRATION.yaml | url DIR | stop DIR" >&2
  exit 2
}

installed_version() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("matrix-synapse"))' 2>/dev/null
}

install() {
  # One installer at a time (parallel test runs share the virtualenv).
  mkdir -p "$(dirname "$VENV")"
  exec 9>"$VENV.lock"
  flock 9
  if [ "$(installed_version || true)" = "$SYNAPSE_VERSION" ]; then
    echo "synapse $SYNAPSE_VERSION already installed in $VENV" >&2
    exec 9>&-
    return
  fi
  local started=$SECONDS
  echo "installing matrix-synapse $SYNAPSE_VERSION into $VENV" >&2
  if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
    echo "synapse: $PY is missing or older than 3.10 (set SYNAPSE_PYTHON)" >&2
    exit 1
  fi
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION" >&2
  echo "installed synapse $(installed_version) in $((SECONDS - started)) s" >&2
  exec 9>&-
}

PORTS_WHO=synapse
# shellcheck source=lib/ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"

write_config() {
  local dir=$1 registration=$2 port=$3 secret=$4 name=$5 open_registration=false
  local rc_message=${SYNAPSE_RC_MESSAGE:-'{per_second: 10000, burst_count: 100000}'}
  if [ "${SYNAPSE_OPEN_REGISTRATION:-}" = 1 ]; then open_registration=true; fi
  cat >"$dir/homeserver.yaml" <<YAML
# Written by scripts/synapse.sh for tests: loopback only, SQLite, no federation.
server_name: "$name"
public_baseurl: "http://127.0.0.1:$port/"
pid_file: "$dir/homeserver.pid"
report_stats: false
listeners:
  - port: $port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "$dir/homeserver.db"
log_config: "$dir/log.config"
media_store_path: "$dir/media_store"
signing_key_path: "$dir/signing.key"
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
enable_registration: $open_registration
enable_registration_without_verification: $open_registration
allow_underscore_prefixed_localpart: $open_registration
registration_shared_secret: "$secret"
macaroon_secret_key: "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
form_secret: "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
app_service_config_files:
  - "$registration"
enable_authenticated_media: true
url_preview_enabled: false
presence:
  enabled: false
# Tests act fast and from one address: no rate limits for anybody (rc_message: see SYNAPSE_RC_MESSAGE).
rc_message: $rc_message
rc_registration: {per_second: 10000, burst_count: 100000}
rc_login:
  address: {per_second: 10000, burst_count: 100000}
  account: {per_second: 10000, burst_count: 100000}
  failed_attempts: {per_second: 10000, burst_count: 100000}
rc_joins:
  local: {per_second: 10000, burst_count: 100000}
  remote: {per_second: 10000, burst_count: 100000}
rc_joins_per_room: {per_second: 10000, burst_count: 100000}
rc_invites:
  per_room: {per_second: 10000, burst_count: 100000}
  per_user: {per_second: 10000, burst_count: 100000}
  per_issuer: {per_second: 10000, burst_count: 100000}
rc_admin_redaction: {per_second: 10000, burst_count: 100000}
rc_media_create: {per_second: 10000, burst_count: 100000}
rc_presence:
  per_user: {per_second: 10000, burst_count: 100000}
rc_delayed_event_mgmt: {per_second: 10000, burst_count: 100000}
rc_reports: {per_second: 10000, burst_count: 100000}
YAML
  cat >"$dir/log.config" <<YAML
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: "$dir/homeserver.log"
    encoding: utf8
loggers:
  synapse.storage.SQL:
    level: WARNING
root:
  level: INFO
  handlers: [file]
disable_existing_loggers: false
YAML
}

is_running() {
  local dir=$1
  [ -f "$dir/homeserver.pid" ] && kill -0 "$(cat "$dir/homeserver.pid")" 2>/dev/null
}

print_url() {
  echo "http://127.0.0.1:$(cat "$1/port")"
}

start() {
  local dir=$1 registration=$2
  [ -f "$registration" ] || { echo "synapse: registration file $registration not found" >&2; exit 1; }
  install
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  registration=$(cd "$(dirname "$registration")" && pwd)/$(basename "$registration")
  if is_running "$dir"; then
    print_url "$dir"
    return
  fi
  local port=${SYNAPSE_PORT:-$(free_port)}
  local secret=${SYNAPSE_SHARED_SECRET:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
  local name=${SYNAPSE_SERVER_NAME:-synapse.test}
  echo "$port" >"$dir/port"
  (umask 077 && echo "$secret" >"$dir/shared-secret")
  write_config "$dir" "$registration" "$port" "$secret" "$name"
  "$VENV/bin/python" -m synapse.app.homeserver --config-path "$dir/homeserver.yaml" \
    --generate-missing-configs >"$dir/generate.log" 2>&1
  # Our own process group, detached from the caller's terminal; output goes to the log files.
  setsid "$VENV/bin/python" -m synapse.app.homeserver --config-path "$dir/homeserver.yaml" \
    >"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/launcher.pid"
  local url="http://127.0.0.1:$port" deadline=$((SECONDS + 120))
  until "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$url/_matrix/client/versions" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$dir/launcher.pid")" 2>/dev/null; then
      echo "synapse: exited during start-up; last log lines:" >&2
      tail -n 30 "$dir/stdout.log" "$dir/homeserver.log" >&2 2>/dev/null || true
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "synapse: not answering on $url after 120 s" >&2
      stop "$dir"
      exit 1
    fi
    sleep 0.3
  done
  echo "$url"
}

stop() {
  local dir=$1 pid
  [ -d "$dir" ] || return 0
  for f in "$dir/homeserver.pid" "$dir/launcher.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

[ $# -ge 1 ] || usage
case $1 in
  install) install ;;
  start)
    [ $# -eq 3 ] || usage
    start "$2" "$3"
    ;;
  url)
    [ $# -eq 2 ] || usage
    print_url "$2"
    ;;
  stop)
    [ $# -eq 2 ] || usage
    stop "$2"
    ;;
  *) usage ;;
esac
