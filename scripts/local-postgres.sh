#!/usr/bin/env bash
# local-postgres.sh — manage a private, socket-only PostgreSQL cluster for development and tests.
#
# Usage: scripts/local-postgres.sh {ensure-packages|start|stop|status|url}
#   ensure-packages  install PostgreSQL server + contrib, libpq and libcrypto headers and pkg-config if missing
#   start            initdb on first use, start the server (idempotent), create database "crm"
#   stop             fast shutdown if running (no error if not running or never created)
#   status           exit 0 if running, 1 otherwise
#   url              print the libpq URI of database "crm" (the only thing ever printed on stdout)
#
# Environment: CRM_PG_ROOT (default <repo>/.data), CRM_PG_PORT (default 55432).
# Layout: <root>/postgres = data dir, <root>/run = socket dir, <root>/postgres.log = server log.
# PostgreSQL refuses to run as root, so as root all server commands run as the "postgres" user.
# If that user cannot reach <root> (e.g. repo under /root with mode 700), or the socket path
# would be too long, /tmp/crm-pg-<md5(repo path)[0:8]> is used instead (deterministically).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
ROOT_REQ="${CRM_PG_ROOT:-$REPO/.data}"; [[ $ROOT_REQ == /* ]] || ROOT_REQ="$PWD/$ROOT_REQ"
# Everything below uses absolute paths. Work from / because PostgreSQL 15's tools (psql too)
# abort if they cannot getcwd(), e.g. as "postgres" in a cwd under /root, or a deleted cwd.
cd /
PORT="${CRM_PG_PORT:-55432}"
FALLBACK="/tmp/crm-pg-$(printf '%s' "$REPO" | md5sum | cut -c1-8)"
PKGS=(postgresql postgresql-contrib libpq-dev libssl-dev libcurl4-openssl-dev pkg-config)

log() { echo "local-postgres: $*" >&2; }
die() { log "error: $*"; exit 1; }
is_root() { [[ $EUID -eq 0 ]]; }

# Run a command as the cluster owner ("postgres" when we are root). 9>&-: the server must
# not inherit the lock fd (see lock), or it would hold the lock for as long as it runs.
as_pg() { if is_root; then runuser -u postgres -- "$@" 9>&-; else "$@" 9>&-; fi; }

# Create directories owned by the cluster owner.
mkdir_pg() { mkdir -p "$@"; if is_root; then chown postgres: "$@" 2>/dev/null || true; fi; }

# Newest installed server binaries, e.g. /usr/lib/postgresql/15/bin (empty if none).
newest_bin() {
  local d; for d in /usr/lib/postgresql/*/bin; do [[ -x $d/initdb ]] && echo "$d"; done | sort -V | tail -n 1
}

# Binaries matching an existing cluster's major version if installed, else the newest.
pick_bin() {
  local v=""; [[ -f $DATA/PG_VERSION ]] && v="$(<"$DATA/PG_VERSION")"
  if [[ -n $v && -x /usr/lib/postgresql/$v/bin/pg_ctl ]]; then BIN="/usr/lib/postgresql/$v/bin"; else BIN="$(newest_bin)"; fi
}

have_trgm() {
  local share; share="$(pg_config --sharedir 2>/dev/null || true)"
  [[ -n $share && -f $share/extension/pg_trgm.control ]] && return 0
  compgen -G '/usr/share/postgresql/*/extension/pg_trgm.control' >/dev/null
}

ensure_packages() {
  [[ -n $(newest_bin) ]] && id postgres &>/dev/null && pkg-config --exists libpq libcrypto libcurl 2>/dev/null && have_trgm && return 0
  if ! is_root; then
    log "PostgreSQL server/contrib, libpq-dev, libssl-dev, libcurl4-openssl-dev or pkg-config is missing. Install them with:"
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${PKGS[*]}" >&2
    exit 1
  fi
  # Only what is missing: naming an installed package would upgrade it (a newer PostgreSQL
  # minor under a running cluster).
  local missing=() pkg
  for pkg in "${PKGS[@]}"; do dpkg -s "$pkg" &>/dev/null || missing+=("$pkg"); done
  (( ${#missing[@]} )) || missing=("${PKGS[@]}")
  log "installing ${missing[*]} (this takes a minute)..."
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  [[ -n $(newest_bin) ]] || die "PostgreSQL server binaries still missing after install"
}

# Set ROOT, DATA, RUN and LOGFILE. Same inputs give the same answer, so all subcommands agree.
resolve_dirs() {
  mkdir -p "$ROOT_REQ" && ROOT="$(cd "$ROOT_REQ" && pwd -P)"   # canonical: compared with /proc
  DATA="$ROOT/postgres" RUN="$ROOT/run"
  if is_root; then
    mkdir_pg "$DATA" "$RUN"
    if ! runuser -u postgres -- test -x "$DATA" -a -w "$DATA" -a -x "$RUN" -a -w "$RUN" 2>/dev/null; then
      rmdir "$DATA" "$RUN" 2>/dev/null || true   # remove the unusable (empty) dirs again
      mkdir_pg "$FALLBACK" "$FALLBACK/postgres" "$FALLBACK/run"
      ROOT="$(cd "$FALLBACK" && pwd -P)"; DATA="$ROOT/postgres" RUN="$ROOT/run"
    fi
  else mkdir -p "$DATA" "$RUN"; fi
  LOGFILE="$ROOT/postgres.log"
  # Unix socket paths are limited to ~107 bytes (stay well below); libpq splits host on commas.
  if (( $(printf '%s' "$RUN/.s.PGSQL.$PORT" | wc -c) > 100 )) || [[ $RUN == *,* ]]; then RUN="$FALLBACK/run"; mkdir_pg "$FALLBACK" "$RUN"; fi
}

# True if PID is a live process whose cwd is DIR (a postmaster chdirs into its data dir).
pm_alive() { [[ -n $1 && $(readlink "/proc/$1/cwd" 2>/dev/null) == "$2" ]]; }

# Running = pg_ctl agrees AND (on Linux) the pid is really our postmaster. This rejects a stale
# postmaster.pid whose pid got reused after a reboot, or a killed, still unreaped (zombie) one.
running() {
  [[ -n ${BIN:-} ]] && as_pg "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1 || return 1
  [[ ! -d /proc/self ]] || pm_alive "$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null)" "$DATA"
}

# Serialise start/stop so parallel test runners don't race on initdb or pg_ctl.
lock() { exec 9>"$ROOT/.lock"; flock 9; }

cmd_start() {
  ensure_packages; resolve_dirs; lock; pick_bin
  if [[ ! -f $DATA/PG_VERSION ]]; then
    log "initializing new cluster in $DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U crm --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    pick_bin
  fi
  # Our settings live in crm.conf, rewritten each start (so port/socket changes apply) and
  # included at the end of postgresql.conf so they win. The socket dir is double-quoted.
  grep -qxF "include 'crm.conf'" "$DATA/postgresql.conf" || echo "include 'crm.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
  as_pg tee "$DATA/crm.conf" >/dev/null <<EOF
# Managed by scripts/local-postgres.sh; rewritten on every start.
listen_addresses = ''
unix_socket_directories = '"${RUN//\'/\'\'}"'
port = $PORT
max_connections = 400
shared_buffers = 256MB
logging_collector = off
EOF
  if ! running; then
    # Stale lock files (e.g. after a machine restart) whose pid may now belong to another
    # process would make the postmaster refuse to start. Lines 1-2 of a lock file: pid, data dir.
    rm -f "$DATA/postmaster.pid"
    local sl="$RUN/.s.PGSQL.$PORT.lock"
    if [[ -f $sl && -d /proc/self ]] && ! pm_alive "$(sed -n 1p "$sl")" "$(sed -n 2p "$sl")"; then rm -f "$sl"; fi
    touch "$LOGFILE"; if is_root; then chown postgres: "$LOGFILE"; fi
    log "starting PostgreSQL on $RUN port $PORT (log: $LOGFILE)"
    as_pg "$BIN/pg_ctl" start -w -D "$DATA" -l "$LOGFILE" >&2 || { tail -n 20 "$LOGFILE" >&2; die "server failed to start"; }
  fi
  local psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U crm -d postgres)
  local have; have="$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'crm'")"
  if [[ -z $have ]]; then log "creating database crm"; "${psql[@]}" -c 'CREATE DATABASE crm'; fi
}

cmd_stop() {
  [[ -n $(newest_bin) ]] || return 0   # never installed, so nothing can be running
  resolve_dirs; lock; pick_bin
  if running; then as_pg "$BIN/pg_ctl" stop -w -m fast -D "$DATA" >&2; else log "not running"; fi
}

# Percent-encode a value for a URI query parameter ('/' stays readable).
urlencode() {
  local LC_ALL=C s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case $c in [A-Za-z0-9/._~-]) out+="$c" ;; *) out+="$(printf '%%%02X' "'$c")" ;; esac
  done
  printf '%s' "$out"
}

case "${1:-}" in
  ensure-packages) ensure_packages ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) [[ -n $(newest_bin) ]] || exit 1; resolve_dirs; pick_bin; running ;;
  url) resolve_dirs; echo "postgresql://crm@/crm?host=$(urlencode "$RUN")&port=$PORT" ;;
  *) echo "usage: $0 {ensure-packages|start|stop|status|url}" >&2; exit 2 ;;
esac
