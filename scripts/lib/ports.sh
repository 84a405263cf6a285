# Loopback port helpers for the scripts that start test servers (pg-cluster.sh, synapse.sh).
# Source it; set PORTS_WHO to the script's name for the error message.

# True when something listens on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port in 20000-59999 nobody listens on (50 tries), printed on stdout.
free_port() {
  local port tries=0
  while [ $tries -lt 50 ]; do
    port=$((20000 + RANDOM % 40000))
    if ! port_in_use "$port"; then
      echo "$port"
      return
    fi
    tries=$((tries + 1))
  done
  echo "${PORTS_WHO:-free_port}: no free port found" >&2
  exit 1
}
