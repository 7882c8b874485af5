#!/usr/bin/env bash
# make bench-webhooks: what webhook delivery costs and how fast it is (API.md §11, issue 15).
#
# One release build of crm serving its own database (crm_bench_hooks on the private cluster),
# one endpoint on a local receiver (nginx answering 204 and logging each delivery's arrival,
# bench/webhooks/receiver.conf.template), then:
#  1. latency: RATE (1000) writes/s for SECONDS (20) through the API (wrk, bench/wrk/post_paced.lua);
#     each event's commit-to-receipt time is its arrival at the receiver minus its `occurred_at`
#     (the writing transaction's start, a little before its commit: the figure errs high);
#     prints p50, p99 and max, and the rate reached;
#  2. cost: post_create at full speed (64 connections, DURATION s) with the endpoint active and
#     with it disabled, ROUNDS (3) alternating rounds; prints each and the ratio of the medians.
# SERVE_ARGS adds flags to crm serve (e.g. --webhook-endpoint-concurrency 8). Only ratios and
# latencies are meaningful: wrk, nginx, the server and PostgreSQL share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-1000} SECONDS_AT_RATE=${SECONDS_AT_RATE:-20} DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-3} POOL=${POOL:-16}
PORT=18184 HOOK_PORT=18185
OUT=bench/results
mkdir -p "$OUT"
log() { echo "bench-webhooks: $*" >&2; }
source bench/lib.sh

require wrk=wrk nginx=nginx-light
release_build
fresh_database crm_bench_hooks
export CRM_KEY=$("$CRM" key create --listing 1 --name bench) CRM_LISTING=1
sql() { psql "$DATABASE_URL" -tAqc "$1"; }

PREFIX=$(mktemp -d /tmp/crm-bench-hooks.XXXXXX)
sed -e "s|__PORT__|$HOOK_PORT|" -e "s|__PREFIX__|$PREFIX|g" bench/webhooks/receiver.conf.template > "$PREFIX/nginx.conf"
nginx -c "$PREFIX/nginx.conf" -p "$PREFIX"
"$CRM" serve --host 127.0.0.1 --port $PORT --pool-size "$POOL" --webhook-allow-private ${SERVE_ARGS:-} > /dev/null 2> "$OUT/serve-hooks.err" &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; [[ -f $PREFIX/nginx.pid ]] && kill "$(cat "$PREFIX/nginx.pid")" 2>/dev/null || true; rm -rf "$PREFIX"; }
trap cleanup EXIT
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.2; done
"$CRM" webhook add --listing 1 --url "http://127.0.0.1:$HOOK_PORT/hook" --webhook-allow-private > /dev/null

# waits until the receiver has logged every event of the feed (flushed at least each second)
drain() {
  local want got=0 waited=0
  want=$(sql "SELECT count(*) FROM contact_changes")
  until (( got >= want )); do
    sleep 1; waited=$((waited + 1))
    got=$(awk '$3 == 204' "$PREFIX/deliveries.log" 2>/dev/null | wc -l)
    (( waited < 300 )) || { log "only $got of $want events delivered after 300 s"; exit 1; }
  done
}

log "latency: $RATE writes/s for $SECONDS_AT_RATE s"
CONNECTIONS=100 RATE=$RATE wrk -t2 -c100 -d"${SECONDS_AT_RATE}s" -s bench/wrk/post_paced.lua "http://127.0.0.1:$PORT" > "$PREFIX/paced.txt"
drain
sql "SELECT 'evt_' || seq, extract(epoch FROM occurred_at) FROM contact_changes" | tr '|' ' ' > "$PREFIX/events.txt"
read -r reached p50 p99 worst < <(python3 - "$PREFIX/events.txt" "$PREFIX/deliveries.log" <<'PY'
import sys
occurred = {}
for line in open(sys.argv[1]):
    event, at = line.split()
    occurred[event] = float(at)
first = {}
for line in open(sys.argv[2]):
    at, event, status = line.split()
    if status == "204" and event in occurred:
        first[event] = min(float(at), first.get(event, float("inf")))
latencies = sorted(first[e] - occurred[e] for e in first)
times = sorted(occurred.values())
rate = len(times) / (times[-1] - times[0])
pick = lambda f: latencies[min(len(latencies) - 1, int(len(latencies) * f))] * 1000
print(f"{rate:.0f} {pick(0.5):.1f} {pick(0.99):.1f} {latencies[-1] * 1000:.1f}")
PY
)
log "reached $reached writes/s: commit-to-receipt p50 $p50 ms, p99 $p99 ms, max $worst ms"

# post_create at full speed, the endpoint active (its cursor moved to now: no backlog) or disabled
endpoint() {
  if [[ $1 == on ]]; then
    sql "UPDATE webhook_endpoints SET status = 'active', cursor_txid = pg_snapshot_xmin(pg_current_snapshot()), cursor_seq = 0"
  else
    sql "UPDATE webhook_endpoints SET status = 'disabled'; DELETE FROM webhook_deliveries"
  fi
}
post_create() {
  wrk -t2 -c64 -d"${DURATION}s" -s bench/wrk/post_create.lua "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ { printf "%.0f", $2 }'
}
with=() without=()
for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 )); then
    endpoint on; with+=("$(post_create)"); endpoint off; sleep 2; without+=("$(post_create)")
  else
    endpoint off; sleep 2; without+=("$(post_create)"); endpoint on; with+=("$(post_create)")
  fi
  log "round $round: post_create with the endpoint ${with[-1]}/s, without ${without[-1]}/s"
done
endpoint off
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mw=$(median "${with[@]}") mo=$(median "${without[@]}")
ratio=$(awk -v a="$mw" -v b="$mo" 'BEGIN { printf "%.2f", a / b }')
echo "webhooks: $reached writes/s → commit-to-receipt p50 $p50 ms, p99 $p99 ms, max $worst ms"
echo "webhooks: post_create with one active endpoint ${with[*]} /s, without ${without[*]} /s; ratio of medians $ratio"
printf '{"rate":%s,"p50_ms":%s,"p99_ms":%s,"max_ms":%s,"post_create_with":%s,"post_create_without":%s,"ratio":%s}\n' \
  "$reached" "$p50" "$p99" "$worst" "$mw" "$mo" "$ratio" > "$OUT/webhooks.json"
