#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: initdb into a temp folder, listen on a free loopback
# port only, trust authentication for loopback and the cluster's own socket folder, one database.
#
#   scripts/pg-cluster.sh start [DIR]   create (if needed) and start; prints the postgres:// URL
#   scripts/pg-cluster.sh url   [DIR]   prints the URL of the running cluster in DIR
#   scripts/pg-cluster.sh stop  [DIR]   stops the cluster and deletes DIR (no-op when absent)
#   scripts/pg-cluster.sh halt  [DIR] [fast|immediate]
#                                       stops the server but keeps DIR (default fast; immediate is a
#                                       crash: no checkpoint, recovery on the next start); a later
#                                       `start` brings it back on the same port (the soak's pg-restart)
#
# DIR defaults to $MIMI_PG_DIR, else ${TMPDIR:-/tmp}/mimi-pg-cluster. Give each concurrent user
# (e.g. each jest run) its own DIR. initdb refuses to run as root, so as root every server
# command runs as the `postgres` system user and DIR is owned by it.
set -euo pipefail

DB_NAME=mimi_test
DB_USER=postgres

usage() {
  echo "usage: $0 start|url|stop [DIR] | halt [DIR] [fast|immediate]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
cmd=$1
dir=${2:-${MIMI_PG_DIR:-${TMPDIR:-/tmp}/mimi-pg-cluster}}

find_bindir() {
  local initdb_path
  if initdb_path=$(command -v initdb 2>/dev/null); then
    dirname "$(readlink -f "$initdb_path")"
    return
  fi
  local candidate
  for candidate in /usr/lib/postgresql/*/bin; do
    if [ -x "$candidate/initdb" ]; then
      echo "$candidate"
      return
    fi
  done
  echo "pg-cluster: initdb not found (install the Debian package postgresql)" >&2
  exit 1
}

BIN=$(find_bindir)

# Run a PostgreSQL server command as a non-root user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_file="$dir/port"

is_running() {
  [ -f "$dir/data/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

print_url() {
  echo "postgres://$DB_USER@127.0.0.1:$(cat "$port_file")/$DB_NAME"
}

PORTS_WHO=pg-cluster
# shellcheck source=lib/ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"

init_cluster() {
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
  fi
  chmod 700 "$dir"
  as_pg "$BIN/initdb" -D "$dir/data" -U "$DB_USER" --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  # Loopback TCP and the cluster's private socket folder only; nothing else may connect.
  as_pg tee "$dir/data/pg_hba.conf" >/dev/null <<'EOF'
local all all trust
host  all all 127.0.0.1/32 trust
EOF
  # A test cluster: durability is not wanted here, speed is.
  as_pg tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

start_cluster() {
  if is_running; then
    print_url
    return
  fi
  [ -d "$dir/data" ] || init_cluster
  local attempt port
  for attempt in 1 2 3 4 5; do
    # Back on the port it had before a `halt`, so that clients holding the URL reconnect.
    if [ "$attempt" = 1 ] && [ -f "$port_file" ] && ! port_in_use "$(cat "$port_file")"; then
      port=$(cat "$port_file")
    else
      port=$(free_port)
    fi
    if as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
      echo "$port" >"$port_file"
      local psql=("$BIN/psql" -h 127.0.0.1 -p "$port" -U "$DB_USER" -d postgres -v ON_ERROR_STOP=1 -qAt)
      if [ "$("${psql[@]}" -c "SELECT count(*) FROM pg_database WHERE datname = '$DB_NAME'")" = 0 ]; then
        "${psql[@]}" -c "CREATE DATABASE $DB_NAME" >/dev/null
      fi
      print_url
      return
    fi
    # Most likely another process took the port between the probe and the bind: try another (a
    # fresh cluster) or the same one again a little later (a restart).
    echo "pg-cluster: start on port $port failed (attempt $attempt), see $dir/server.log" >&2
    [ -f "$port_file" ] && sleep 2
  done
  exit 1
}

stop_cluster() {
  if [ -d "$dir/data" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

halt_cluster() {
  local mode=${1:-fast}
  case "$mode" in fast | immediate) ;; *) usage ;; esac
  if is_running; then
    as_pg "$BIN/pg_ctl" -D "$dir/data" -m "$mode" -w stop >/dev/null
  fi
}

case "$cmd" in
  start) start_cluster ;;
  halt) halt_cluster "${3:-fast}" ;;
  url)
    if ! is_running; then
      echo "pg-cluster: no cluster running in $dir" >&2
      exit 1
    fi
    print_url
    ;;
  stop) stop_cluster ;;
  *) usage ;;
esac
