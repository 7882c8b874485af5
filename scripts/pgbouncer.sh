#!/usr/bin/env bash
# pgbouncer.sh — a PgBouncer in transaction pooling mode in front of the private cluster, for
# the tests that run the contacts API through it (`make test-pgbouncer`, part of `make test`).
#
# Usage: scripts/pgbouncer.sh {start|stop|port} [DATABASE_URL]
#   start  install pgbouncer if missing (as root), write its configuration under
#          $CRM_PGBOUNCER_DIR (default /tmp/crm-pgbouncer-<uid>) and start it on
#          127.0.0.1:$CRM_PGBOUNCER_PORT, else the first free port from 16432 (below Linux's
#          ephemeral range, where a test's client socket could hold a port a moment), forwarding
#          every database name to the server of DATABASE_URL (a socket directory or host, and port)
#   stop   stop it (no error if it is not running)
#   port   print the port it listens on
#
# PgBouncer refuses to run as root: as root it runs as the "postgres" user. It trusts every
# loopback client (a test machine's), keeps 20 server connections per database and user, and
# drops the startup `options` (PgBouncer 1.18 cannot pass them on), so the statement timeout
# the service sends that way does not reach the server behind it (README: Scaling out).
set -euo pipefail

DIR="${CRM_PGBOUNCER_DIR:-/tmp/crm-pgbouncer-$(id -u)}"
cd /

as_owner() { if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {
  local url="${1:?usage: pgbouncer.sh start DATABASE_URL}"
  if ! command -v pgbouncer >/dev/null; then
    [[ $EUID -eq 0 ]] || { echo "pgbouncer.sh: install pgbouncer (apt-get install -y pgbouncer)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >&2
  fi
  # The server's host (or socket directory) and port, from the URL or key/value string.
  local target
  target="$(python3 - "$url" <<'PY'
import sys, urllib.parse
url = sys.argv[1]
if "://" in url:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    host = query.get("host") or parts.hostname or "localhost"
    port = query.get("port") or parts.port or 5432
else:
    pairs = dict(item.split("=", 1) for item in url.split())
    host, port = pairs.get("host", "localhost"), pairs.get("port", "5432")
print(f"host={host} port={port}")
PY
)"
  stop
  mkdir -p "$DIR"
  [[ $EUID -eq 0 ]] && chown postgres: "$DIR"
  local candidates=("${CRM_PGBOUNCER_PORT:-}") port
  [[ -n ${CRM_PGBOUNCER_PORT:-} ]] || candidates=($(seq 16432 16451))
  for port in "${candidates[@]}"; do
    if launch "$target" "$port"; then
      echo "$port" > "$DIR/port"
      echo "pgbouncer.sh: listening on 127.0.0.1:$port" >&2
      return 0
    fi
  done
  echo "pgbouncer.sh: did not start; see $DIR/pgbouncer.log" >&2
  exit 1
}

# Starts PgBouncer for `target` on 127.0.0.1:`port`; fails when it is not listening within 5 s.
launch() {
  local target="$1" port="$2"
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 1  # someone else's
  as_owner tee "$DIR/pgbouncer.ini" >/dev/null <<INI
[databases]
* = $target

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
server_reset_query =
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
INI
  as_owner tee "$DIR/userlist.txt" >/dev/null <<<'"crm" ""'
  as_owner pgbouncer -d "$DIR/pgbouncer.ini" || return 1
  for _ in $(seq 50); do
    [[ -f $DIR/pgbouncer.pid ]] && kill -0 "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null || { sleep 0.1; continue; }
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  stop
  return 1
}

stop() {
  if [[ -f $DIR/pgbouncer.pid ]]; then
    kill "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [[ -f $DIR/pgbouncer.pid ]] || break; sleep 0.1; done
    rm -f "$DIR/pgbouncer.pid"
  fi
}

case "${1:-}" in
  start) start "${2:-${DATABASE_URL:-}}" ;;
  stop) stop ;;
  port) cat "$DIR/port" ;;
  *) echo "usage: $0 {start|stop|port} [DATABASE_URL]" >&2; exit 2 ;;
esac
