#!/usr/bin/env bash
# citus-cluster.sh — a throwaway Citus cluster on loopback: one coordinator and two workers,
# for `make test-citus` and for trying the schema distributed (issue 17, API.md §14).
#
# Usage: scripts/citus-cluster.sh {start|stop|status|url|worker-urls|create-db DB|drop-db DB}
#   start        initdb on first use, start the three servers (idempotent: a running one is only
#                told to reload its settings); needs Citus installed (scripts/citus-install.sh)
#   stop         fast shutdown of those running (no error when none is)
#   status       exit 0 when all three run, 1 otherwise
#   url          print the libpq URI of the coordinator (user postgres, database postgres)
#   worker-urls  print the workers' libpq URIs, one a line
#   create-db DB make DB a Citus database: created on every node, the citus extension in each,
#                the workers added to the coordinator's metadata (the bootstrap a test harness
#                runs after its CREATE DATABASE, written out in sql/citus/distribute.sql)
#   drop-db DB   drop DB on every node
#
# Environment: CITUS_DIR (default /tmp/crm-citus), CITUS_PORT (coordinator; the workers take the
# next two ports; by default start picks the first of 25471, 25474, ... whose three ports are
# free and records it in $CITUS_DIR/port, which url, worker-urls and create-db read: below
# Linux's ephemeral range, 32768-60999, so a client connection's local port cannot hold one
# of them, as 55472 once was in CI), CITUS_MAX_CONNECTIONS (default 300, each server),
# CITUS_SHARD_COUNT (default 4: citus.shard_count, the shards a table distributed without an
# explicit count gets; Citus's own default is 32, many for a test's handful of rows).
# Layout: $CITUS_DIR/{coordinator,worker1,worker2} data, $CITUS_DIR/run sockets, *.log logs.
# Every server listens on 127.0.0.1 (the nodes reach each other there: citus_add_node names
# 127.0.0.1) and on the socket directory; authentication is trust for local and loopback.
# PostgreSQL refuses to run as root: as root the servers run as the "postgres" user. The
# servers run without fsync (a test cluster: a crash of the machine loses it).
#
# A new database is a Citus database only after the bootstrap of create-db (on every node);
# then `crm migrate` and sql/citus/distribute.sql distribute the schema.
set -euo pipefail

CITUS_DIR="${CITUS_DIR:-/tmp/crm-citus}"
[[ $CITUS_DIR == /* ]] || CITUS_DIR="$PWD/$CITUS_DIR"
PORT_FILE="$CITUS_DIR/port"
FIRST_PORT=25471
MAX_CONNECTIONS="${CITUS_MAX_CONNECTIONS:-300}"
SHARD_COUNT="${CITUS_SHARD_COUNT:-4}"
NODES=(coordinator worker1 worker2)
RUN="$CITUS_DIR/run"
# PostgreSQL 15's tools abort when they cannot getcwd() (e.g. as postgres in a cwd under /root).
cd /

log() { echo "citus-cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }
is_root() { [[ $EUID -eq 0 ]]; }
# 9>&-: a server must not inherit the lock's descriptor (it would hold the lock while it runs).
as_pg() { if is_root; then runuser -u postgres -- "$@" 9>&-; else "$@" 9>&-; fi; }
mkdir_pg() { mkdir -p "$@"; if is_root; then chown postgres: "$@"; fi; }

BIN=/usr/lib/postgresql/15/bin
[[ -x $BIN/pg_ctl ]] || die "PostgreSQL 15 is not installed ($BIN)"

# The coordinator's port: CITUS_PORT, else the one start recorded, else the first candidate.
PORT="${CITUS_PORT:-$(cat "$PORT_FILE" 2>/dev/null || echo "$FIRST_PORT")}"

# True if nothing holds 127.0.0.1:$1: a bind as PostgreSQL does it (SO_REUSEADDR) succeeds.
port_free() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# Chooses PORT for a start: CITUS_PORT if given; the recorded port while any node still runs
# (it holds it); else the first candidate whose three ports are all free. Recorded in PORT_FILE.
choose_port() {
    local node base
    if [[ -n ${CITUS_PORT:-} ]]; then echo "$PORT" > "$PORT_FILE"; return; fi
    for node in "${NODES[@]}"; do
        if [[ -f $PORT_FILE && -f $CITUS_DIR/$node/PG_VERSION ]] && running "$node"; then return; fi
    done
    for ((base = FIRST_PORT; base < FIRST_PORT + 300; base += 3)); do
        if port_free "$base" && port_free $((base + 1)) && port_free $((base + 2)); then
            PORT=$base; echo "$PORT" > "$PORT_FILE"; return
        fi
    done
    die "no three free ports from $FIRST_PORT (set CITUS_PORT)"
}

node_port() { case $1 in coordinator) echo "$PORT" ;; worker1) echo $((PORT + 1)) ;; worker2) echo $((PORT + 2)) ;; esac; }
node_url() { echo "postgresql://postgres@127.0.0.1:$(node_port "$1")/postgres"; }

# True if the node's postmaster runs: pg_ctl says so and the pid is a process whose cwd is the
# data directory (not a stale postmaster.pid whose pid was reused).
running() {
    local data="$CITUS_DIR/$1" pid
    as_pg "$BIN/pg_ctl" status -D "$data" >/dev/null 2>&1 || return 1
    pid="$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)"
    [[ ! -d /proc/self || $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$data" ]]
}

lock() { exec 9>"$CITUS_DIR/.lock"; flock 9; }

start_node() {
    local node=$1 data="$CITUS_DIR/$1" port
    port="$(node_port "$node")"
    if [[ ! -f $data/PG_VERSION ]]; then
        log "initializing $node in $data"
        mkdir_pg "$data"
        as_pg "$BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    grep -qxF "include 'citus-cluster.conf'" "$data/postgresql.conf" \
        || echo "include 'citus-cluster.conf'" | as_pg tee -a "$data/postgresql.conf" >/dev/null
    # Rewritten on each start, so changed ports or limits apply.
    as_pg tee "$data/citus-cluster.conf" >/dev/null <<EOF
# Managed by scripts/citus-cluster.sh; rewritten on every start.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$RUN'
shared_preload_libraries = 'citus'
max_connections = $MAX_CONNECTIONS
# Each database with the citus extension runs a maintenance daemon (a background worker) on
# every node: room for the databases of a test run that are alive at once.
max_worker_processes = 64
# The coordinator's backends together open at most this many connections to each worker,
# below the worker's max_connections (which also serves the coordinator's maintenance).
citus.max_shared_pool_size = $((MAX_CONNECTIONS * 3 / 4))
citus.shard_count = $SHARD_COUNT
# Loopback only: no TLS between the nodes.
citus.node_conninfo = 'sslmode=disable'
# A throwaway test cluster: no crash safety, and much faster CREATE DATABASE and DDL.
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
logging_collector = off
EOF
    if ! running "$node"; then
        rm -f "$data/postmaster.pid"
        touch "$CITUS_DIR/$node.log"; if is_root; then chown postgres: "$CITUS_DIR/$node.log"; fi
        log "starting $node on 127.0.0.1:$port (log: $CITUS_DIR/$node.log)"
        as_pg "$BIN/pg_ctl" start -w -D "$data" -l "$CITUS_DIR/$node.log" >/dev/null \
            || { tail -n 20 "$CITUS_DIR/$node.log" >&2; die "$node failed to start"; }
    else
        # Already running: settings that a reload can change take effect (ports, preloads and
        # max_connections need a stop and a start).
        as_pg "$BIN/pg_ctl" reload -D "$data" >/dev/null
    fi
}

cmd_start() {
    [[ -f $($BIN/pg_config --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)/citus.so ]] \
        || die "Citus is not installed: run scripts/citus-install.sh first"
    mkdir_pg "$CITUS_DIR" "$RUN"
    lock
    choose_port
    local node
    for node in "${NODES[@]}"; do start_node "$node"; done
}

cmd_stop() {
    [[ -d $CITUS_DIR ]] || return 0
    lock
    local node
    for node in "${NODES[@]}"; do
        if [[ -f $CITUS_DIR/$node/PG_VERSION ]] && running "$node"; then
            as_pg "$BIN/pg_ctl" stop -w -m fast -D "$CITUS_DIR/$node" >/dev/null
            log "stopped $node"
        fi
    done
}

psql_at() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "postgresql://postgres@127.0.0.1:$(node_port "$1")/$2" "${@:3}"; }

# The bootstrap of one database. The workers first (their citus extension must exist before
# the coordinator adds them), both at once; then the coordinator.
cmd_create_db() {
    local db=$1 pids=() w
    [[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || die "create-db: a plain lower-case database name, please"
    for w in worker1 worker2; do
        { psql_at "$w" postgres -c "CREATE DATABASE $db" && psql_at "$w" "$db" -c "CREATE EXTENSION citus"; } & pids+=($!)
    done
    for w in "${pids[@]}"; do wait "$w"; done
    psql_at coordinator postgres -c "CREATE DATABASE $db"
    psql_at coordinator "$db" -c "CREATE EXTENSION citus" \
        -c "SELECT citus_set_coordinator_host('127.0.0.1', $PORT)" \
        -c "SELECT citus_add_node('127.0.0.1', $((PORT + 1)))" \
        -c "SELECT citus_add_node('127.0.0.1', $((PORT + 2)))" >/dev/null
}

cmd_drop_db() {
    local db=$1 node
    [[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || die "drop-db: a plain lower-case database name, please"
    for node in "${NODES[@]}"; do psql_at "$node" postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
}

cmd_status() {
    local node
    for node in "${NODES[@]}"; do running "$node" || return 1; done
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) node_url coordinator ;;
    worker-urls) node_url worker1; node_url worker2 ;;
    create-db) cmd_create_db "${2:?create-db DB}" ;;
    drop-db) cmd_drop_db "${2:?drop-db DB}" ;;
    *) echo "usage: $0 {start|stop|status|url|worker-urls|create-db DB|drop-db DB}" >&2; exit 2 ;;
esac
