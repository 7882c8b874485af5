#!/usr/bin/env bash
# make bench-topologies: the same load against each way of running the service (docs/SCALING.md).
#
# In one run, with one release build: for each topology, a fresh database, `crm serve`
# (POOL connections) on it, SEED contacts created through the API (POST: the create rate), then
# wrk's `mixed` scenario (80 % GET by email, 10 % PUT, 5 % POST, 5 % name search) with
# CONNECTIONS keep-alive connections for DURATION seconds. Prints one row per topology and
# writes bench/results/topologies.json. The machine's 2 cores are shared by wrk, the server and
# every PostgreSQL node, so a topology with more nodes pays for them here: compare rows of one
# run, as ratios, not with other machines.
#
# Topologies (TOPOLOGIES picks some):
#   one_node   the private cluster (make run's)
#   pgbouncer  the same, through PgBouncer in transaction pooling mode (--statement-mode unnamed)
#   citus      a coordinator and two workers on loopback (scripts/citus-cluster.sh), distributed
#              by listing; crm serve on the coordinator
#
# Environment: SEED (20000), DURATION (10), CONNECTIONS (64), POOL (16), TOPOLOGIES (all).
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${SEED:-20000} DURATION=${DURATION:-10} CONNECTIONS=${CONNECTIONS:-64} POOL=${POOL:-16}
TOPOLOGIES=${TOPOLOGIES:-"one_node pgbouncer citus"}
PORT=18183
OUT=bench/results
mkdir -p "$OUT"
log() { echo "bench-topologies: $*" >&2; }
source bench/lib.sh

require wrk=wrk pgbouncer=pgbouncer
bash scripts/citus-install.sh
release_build
SERVER=""
cleanup() {
  [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null || true
  bash scripts/pgbouncer.sh stop
  bash scripts/citus-cluster.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# serve_and_load DATABASE_URL [crm serve options…]: crm serve on PORT, a key for listing 1, SEED
# contacts (counted through COUNT_URL); prints "create_rate mixed_rps p50 p99 non_2xx".
serve_and_load() {
  local url=$1; shift
  export DATABASE_URL=$url
  export CRM_KEY=$("$CRM" key create --listing 1 --name bench "$@" 2>/dev/null | tail -n 1)
  export CRM_LISTING=1 CRM_CONTACTS=$SEED
  "$CRM" serve --host 127.0.0.1 --port $PORT --pool-size "$POOL" "$@" > /dev/null 2> "$OUT/topology-serve.err" &
  SERVER=$!
  until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.2; done
  local started count=0
  started=$(date +%s.%N)
  THREADS=2 wrk -t2 -c"$CONNECTIONS" -d3600s -s bench/wrk/seed.lua "http://127.0.0.1:$PORT" > /dev/null &
  local seeder=$!
  until (( count >= SEED )); do
    sleep 0.5
    count=$(psql "$COUNT_URL" -tAqc "SELECT count(*) FROM contacts WHERE listing_id = 1")
  done
  kill $seeder; wait $seeder 2>/dev/null || true
  local create_rate
  create_rate=$(awk -v n="$SEED" -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", n / (e - s) }')
  local report
  report=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/wrk/mixed.lua "http://127.0.0.1:$PORT")
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<< "$report")
  p50=$(awk '$1 == "50%" { print $2 }' <<< "$report")
  p99=$(awk '$1 == "99%" { print $2 }' <<< "$report")
  errors=$(awk '/Non-2xx/ { print $NF } END { }' <<< "$report"); errors=${errors:-0}
  echo "$create_rate $rps $p50 $p99 $errors"
}

declare -A ROWS
for topology in $TOPOLOGIES; do
  log "$topology"
  case $topology in
    one_node)
      fresh_database crm_topology
      COUNT_URL=$DATABASE_URL
      ROWS[$topology]=$(serve_and_load "$DATABASE_URL") ;;
    pgbouncer)
      fresh_database crm_topology
      direct=$DATABASE_URL COUNT_URL=$DATABASE_URL
      bash scripts/pgbouncer.sh start "$direct"
      pooled="postgresql://crm@127.0.0.1:$(bash scripts/pgbouncer.sh port)/crm_topology"
      "$CRM" migrate --database-url "$direct" > /dev/null
      ROWS[$topology]=$(serve_and_load "$pooled" --statement-mode unnamed --listen-database-url "$direct")
      bash scripts/pgbouncer.sh stop ;;
    citus)
      bash scripts/citus-cluster.sh start
      bash scripts/citus-cluster.sh drop-db crm_topology >/dev/null
      bash scripts/citus-cluster.sh create-db crm_topology
      coordinator=$(bash scripts/citus-cluster.sh url)
      COUNT_URL="${coordinator%/postgres}/crm_topology"
      ROWS[$topology]=$(serve_and_load "$COUNT_URL")
      bash scripts/citus-cluster.sh stop >/dev/null ;;
    *) log "unknown topology $topology"; exit 2 ;;
  esac
done

printf '%-10s %12s %10s %8s %8s %8s\n' topology "POST/s seed" "mixed r/s" "p50" "p99" "non-2xx"
json="{"
for topology in $TOPOLOGIES; do
  read -r create rps p50 p99 errors <<< "${ROWS[$topology]}"
  printf '%-10s %12s %10s %8s %8s %8s\n' "$topology" "$create" "$rps" "$p50" "$p99" "$errors"
  json+="\"$topology\":{\"post_per_s\":$create,\"mixed_rps\":$rps,\"p50\":\"$p50\",\"p99\":\"$p99\",\"non_2xx\":$errors},"
done
echo "${json%,}}" > "$OUT/topologies.json"
