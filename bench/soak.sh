#!/usr/bin/env bash
# make soak: SOAK_SECONDS (600) of mixed load (bench/wrk/mixed.lua, 64 connections) on a
# release build of crm serve with its own database (crm_soak, SEED contacts inserted with SQL);
# the server's RSS and open file descriptors are sampled every 10 s and printed (first, max,
# last). Fails when the last sample is far above the first: RSS more than 1.5× plus 16 MB, or
# more than 64 descriptors beyond the first sample (the load's 64 connections stay open).
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SECONDS=${SOAK_SECONDS:-600} SEED=${SEED:-100000} PORT=18185
log() { echo "soak: $*" >&2; }
source bench/lib.sh

require wrk=wrk
release_build
fresh_database crm_soak
"$CRM" migrate >/dev/null
export CRM_KEY=$("$CRM" key create --listing 1 --name soak) CRM_CONTACTS=$SEED CRM_LISTING=1
psql "$DATABASE_URL" -qc "INSERT INTO contacts (listing_id, email, first_name, last_name)
  SELECT 1, 'bench' || n || '@example.com', 'Bench' || n,
         lpad(to_hex((n * 2654435761) % 16777216), 6, '0') || lpad(to_hex((n * 40503 + 12345) % 16777216), 6, '0')
    FROM generate_series(0::bigint, $SEED - 1) n" -c "VACUUM ANALYZE contacts"
"$CRM" serve --host 127.0.0.1 --port $PORT > /dev/null 2>/tmp/crm-soak.err &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.2; done
sample() { echo "$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' /proc/$SERVER/status) $(ls /proc/$SERVER/fd | wc -l)"; }
log "mixed load for $SOAK_SECONDS s, sampling every 10 s"
wrk -t2 -c64 -d"${SOAK_SECONDS}s" --latency -s bench/wrk/mixed.lua "http://127.0.0.1:$PORT" > /tmp/crm-soak.wrk &
LOAD=$!
samples=()
sleep 5
while kill -0 $LOAD 2>/dev/null; do
  samples+=("$(sample)")
  printf 'soak: %4ds  RSS %s MB  fds %s\n' $(( ${#samples[@]} * 10 - 5 )) ${samples[-1]} >&2
  sleep 10
done
wait $LOAD || true
grep -E "Requests/sec|Non-2xx|99%" /tmp/crm-soak.wrk || true
printf '%s\n' "${samples[@]}" | awk '
  NR == 1 { rss0 = $1; fd0 = $2 } { if ($1 > rssmax) rssmax = $1; if ($2 > fdmax) fdmax = $2; rss = $1; fd = $2 }
  END {
    printf "RSS MB: first %.1f, max %.1f, last %.1f   open fds: first %d, max %d, last %d\n", rss0, rssmax, rss, fd0, fdmax, fd
    if (rss > rss0 * 1.5 + 16 || fd > fd0 + 64) { print "soak: RSS or descriptors grew"; exit 1 }
  }'
