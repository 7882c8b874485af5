#!/usr/bin/env bash
# make bench: the service's throughput per scenario against the database's own ceiling.
#
# In one run on this machine: a release build of crm serving its own database (crm_bench on
# the private cluster), a key from the CLI, SEED contacts created through the API (POST: its
# rate is the create throughput), VACUUM ANALYZE, then for each scenario wrk with CONNECTIONS
# keep-alive connections for DURATION seconds, and pgbench -M prepared running the very
# statements the server sends for that request with as many clients. Also the static route
# (/healthz) against nginx serving the same bytes, and the server's RSS. Prints a table and
# writes bench/results/latest.json. Only ratios are meaningful: wrk, the server and PostgreSQL
# share the machine's cores.
#
# Environment: SEED (100000), OTHERS (SEED: contacts put in listing 2 with SQL, so the
# benchmarked listing shares its tables and indexes), DURATION (10), CONNECTIONS (64),
# SCENARIOS (all), POOL (16), IDLE (10000 idle keep-alive connections held at the end for RSS).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SEED=${SEED:-100000} OTHERS=${OTHERS:-${SEED:-100000}} IDLE=${IDLE:-10000} DURATION=${DURATION:-10} CONNECTIONS=${CONNECTIONS:-64} POOL=${POOL:-16}
SCENARIOS=${SCENARIOS:-"get_by_email get_by_id search_name list_page changes_page put_update post_create delete_recreate mixed"}
PORT=18180 NGINX_PORT=18182
OUT=bench/results
mkdir -p "$OUT"
log() { echo "bench: $*" >&2; }
source bench/lib.sh

require wrk=wrk nginx=nginx-light rsvg-convert=librsvg2-bin
release_build
fresh_database crm_bench
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
export CRM_KEY=$("$CRM" key create --listing 1 --name bench)
KEY_HASH=$(printf '%s' "$CRM_KEY" | sha256sum | cut -c1-64)
export CRM_LISTING=1 CRM_CONTACTS=$SEED CONNECTIONS

"$CRM" serve --host 127.0.0.1 --port $PORT --pool-size "$POOL" > /dev/null 2> "$OUT/serve.err" &
SERVER=$!
PREFIX=$(mktemp -d /tmp/crm-bench-nginx.XXXXXX)
cleanup() { kill "$SERVER" 2>/dev/null || true; [[ -f $PREFIX/nginx.pid ]] && kill "$(cat "$PREFIX/nginx.pid")" 2>/dev/null || true; rm -rf "$PREFIX"; }
trap cleanup EXIT
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.2; done
rss() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER/status"; }
sql() { psql "$DATABASE_URL" -tAqc "$1"; }

log "seeding $SEED contacts through the API"
started=$(date +%s.%N)
THREADS=2 wrk -t2 -c"$CONNECTIONS" -d3600s -s bench/wrk/seed.lua "http://127.0.0.1:$PORT" > /dev/null &
SEEDER=$!
count=0 stalled=0
until (( count >= SEED )); do
  sleep 0.5
  previous=$count count=$(sql "SELECT count(*) FROM contacts")
  if (( count == previous )); then stalled=$((stalled + 1)); else stalled=0; fi
  (( stalled < 20 )) || { echo "bench: seeding stalled at $count contacts (see $OUT/serve.err)" >&2; exit 1; }
done
kill $SEEDER; wait $SEEDER 2>/dev/null || true
seed_rate=$(awk -v n="$SEED" -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", n / (e - s) }')
rss_seeded=$(rss)
log "adding $OTHERS contacts to listing 2 (SQL)"
sql "INSERT INTO listings (listing_id) VALUES (2) ON CONFLICT DO NOTHING;
     INSERT INTO contacts (listing_id, email, first_name, last_name)
     SELECT 2, 'other' || n || '@example.com', 'Other' || n, md5(n::text) FROM generate_series(1, $OTHERS) n" >/dev/null
sql "VACUUM ANALYZE" >/dev/null
# The minimal ceilings' plain copy of the tables: same rows and indexes, none of our functions
# or triggers (bench/pgbench/minimal/schema.sql).
psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 -f bench/pgbench/minimal/schema.sql 2>/dev/null
read -r MIN_ID MAX_ID < <(sql "SELECT min(contact_id), max(contact_id) FROM contacts WHERE email LIKE 'bench%'" | tr '|' ' ')
export CRM_MIN_ID=$MIN_ID CRM_MAX_ID=$MAX_ID

# wrk → "requests/s p50_ms p99_ms errors": errors are answers other than 2xx plus socket
# errors (connect, read, write, timeout); any of them fails the run (below).
wrk_run() {
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /Non-2xx/ { bad += $NF }
    /Socket errors/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) bad += $i + 0 }
    END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad }'
}
# pgbench → "statements/s p50_ms p99_ms failures" (per-transaction latencies from its log)
pgbench_run() {
  local dir; dir=$(mktemp -d)
  local statements=$1 mode=$2; shift 2
  local status=0
  (cd "$dir" && "$PGBIN/pgbench" -n -M "$mode" -c "$CONNECTIONS" -j 2 -T "$DURATION" -l \
      -D key_hash="$KEY_HASH" -D seed="$SEED" -D min_id="$MIN_ID" -D max_id="$MAX_ID" "$@" "$DATABASE_URL" > summary 2>&1) || status=$?
  local tps; tps=$(awk '/^tps = / { print $3 }' "$dir/summary")
  # Failures: failed transactions, aborted clients, or pgbench itself failing.
  local failures; failures=$(awk -v status="$status" '
    /number of failed transactions:/ { n += $5 } / aborted in command / { n++ } END { print n + (status != 0 && n == 0 ? 1 : 0) }' "$dir/summary")
  (( failures == 0 )) || { log "pgbench failed:"; tail -n 5 "$dir/summary" >&2; }
  cat "$dir"/pgbench_log.* 2>/dev/null | awk '{ print $3 / 1000 }' | sort -n | awk -v tps="${tps:-0}" -v k="$statements" -v f="$failures" '
    { v[NR] = $1 } END { printf "%.0f %.3f %.3f %d\n", tps * k, v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1], f }'
  rm -rf "$dir"
}

# Each scenario's ceiling: the cheapest correct SQL for the same work on the plain copy
# (bench/pgbench/minimal: the key's grant joined in, the blacklist as NOT EXISTS, ON CONFLICT DO
# NOTHING; no functions, no triggers). Our own statements (SQLFILES below, which call our
# functions) get a column of their own, so the table shows where the time goes: HTTP and Swift
# (ours against our functions), our SQL's overhead (our functions against the minimum).
MIN=$ROOT/bench/pgbench/minimal
declare -A MINIMAL=(
  [get_by_email]="-f $MIN/get_by_email.sql" [get_by_id]="-f $MIN/get_by_id.sql" [search_name]="-f $MIN/search_name.sql"
  [list_page]="-f $MIN/list_page.sql" [changes_page]="-f $MIN/changes_page.sql" [put_update]="-f $MIN/put_update.sql" [post_create]="-f $MIN/post_create.sql"
  [delete_recreate]="-f $MIN/delete_recreate.sql"
  [mixed]="-f $MIN/get_by_email.sql@80 -f $MIN/put_update.sql@10 -f $MIN/post_create.sql@5 -f $MIN/search_name.sql@5"
)
declare -A SQLFILES=(
  [get_by_email]="-f $ROOT/bench/pgbench/get_by_email.sql" [get_by_id]="-f $ROOT/bench/pgbench/get_by_id.sql"
  [search_name]="-f $ROOT/bench/pgbench/search_name.sql" [list_page]="-f $ROOT/bench/pgbench/list_page.sql"
  [changes_page]="-f $ROOT/bench/pgbench/changes_page.sql"
  [put_update]="-f $ROOT/bench/pgbench/put_update.sql" [post_create]="-f $ROOT/bench/pgbench/post_create.sql"
  [delete_recreate]="-f $ROOT/bench/pgbench/delete_recreate.sql"
  [mixed]="-f $ROOT/bench/pgbench/get_by_email.sql@80 -f $ROOT/bench/pgbench/put_update.sql@10 -f $ROOT/bench/pgbench/post_create.sql@5 -f $ROOT/bench/pgbench/search_name.sql@5"
)
declare -A STATEMENTS=([delete_recreate]=2)
# The server sends substring searches as unnamed statements, planned for their values
# (ContactSearchQuery): their ceiling is pgbench's extended protocol, not a prepared statement.
declare -A MODES=([search_name]=extended)

printf '\n%-16s %10s %8s %8s %6s | %10s %8s %8s %6s | %11s | %6s\n' scenario "req/s" "p50 ms" "p99 ms" errors "ceiling/s" "p50 ms" "p99 ms" fails "functions/s" ratio
errors=0
# The same table in Markdown, for the README (bench/results/latest.md).
md="| scenario | req/s | p50 ms | p99 ms | ceiling/s | ceiling p99 ms | functions/s | ratio | p99 ratio |
|---|---:|---:|---:|---:|---:|---:|---:|---:|"
json="{\"seed\":$SEED,\"connections\":$CONNECTIONS,\"duration\":$DURATION,\"create_rate_while_seeding\":$seed_rate,\"rss_mb_after_seed\":$rss_seeded,\"scenarios\":{"
first=1
for scenario in $SCENARIOS; do
  read -r rps p50 p99 bad < <(wrk_run -s "bench/wrk/$scenario.lua" "http://127.0.0.1:$PORT")
  # shellcheck disable=SC2086
  read -r ceiling cp50 cp99 fails < <(pgbench_run "${STATEMENTS[$scenario]:-1}" "${MODES[$scenario]:-prepared}" ${MINIMAL[$scenario]})
  read -r functions _ _ ffails < <(pgbench_run "${STATEMENTS[$scenario]:-1}" "${MODES[$scenario]:-prepared}" ${SQLFILES[$scenario]})
  errors=$((errors + bad + fails + ffails))
  ratio=$(awk -v a="$rps" -v b="$ceiling" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  p99ratio=$(awk -v a="$p99" -v b="$cp99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf '%-16s %10s %8s %8s %6s | %10s %8s %8s %6s | %11s | %6s\n' "$scenario" "$rps" "$p50" "$p99" "$bad" "$ceiling" "$cp50" "$cp99" "$((fails + ffails))" "$functions" "$ratio"
  md+=$'\n'"| $scenario | $rps | $p50 | $p99 | $ceiling | $cp99 | $functions | $ratio | $p99ratio |"
  [[ $scenario == post_create ]] && post_ceiling=$ceiling
  [[ $first == 1 ]] || json+=","
  first=0
  json+="\"$scenario\":{\"rps\":$rps,\"p50_ms\":$p50,\"p99_ms\":$p99,\"errors\":$bad,\"ceiling_failures\":$((fails + ffails)),\"ceiling_per_s\":$ceiling,\"functions_per_s\":$functions,\"ceiling_p50_ms\":$cp50,\"ceiling_p99_ms\":$cp99,\"ratio\":$ratio,\"p99_ratio\":$p99ratio}"
done

# Seeding by POST (64 connections creating SEED contacts) against the post_create ceiling.
if [[ -n ${post_ceiling:-} ]]; then
  seed_ratio=$(awk -v a="$seed_rate" -v b="$post_ceiling" 'BEGIN { printf "%.2f", a / b }')
  printf '%-16s %10s %8s %8s %6s | %10s %8s %8s %6s | %11s | %6s  (against post_create)\n' seeding "$seed_rate" - - - "$post_ceiling" - - - - "$seed_ratio"
  md+=$'\n'"| seeding by POST (ceiling: post_create's) | $seed_rate | | | $post_ceiling | | | $seed_ratio | |"
  seeding_json=",\"seeding\":{\"rps\":$seed_rate,\"ceiling_per_s\":$post_ceiling,\"ratio\":$seed_ratio}"
fi

# The physical limit for lookups: the same statement in batches of 8 under one Sync (pgbench
# pipeline mode, 16 clients), what a client that pipelines could get from this database.
json+="},\"pipelined_ceilings\":{"
first=1
for scenario in get_by_email get_by_id; do
  [[ " $SCENARIOS " == *" $scenario "* ]] || continue
  read -r pipelined _ _ pfails < <(pgbench_run 8 prepared -f "$MIN/${scenario}_pipelined.sql" -c 16)
  errors=$((errors + pfails))
  printf '%-16s %10s %8s %8s %6s | %10s %8s %8s %6s | %11s | %6s  (pipelined ceiling)\n' "$scenario" - - - - "$pipelined" - - "$pfails" - -
  md+=$'\n'"| $scenario, pipelined ceiling (8 under one Sync) | | | | $pipelined | | | |"
  [[ $first == 1 ]] || json+=","
  first=0
  json+="\"$scenario\":{\"statements_per_s\":$pipelined,\"failures\":$pfails}"
done

# The HTTP ceiling: /healthz against nginx returning the same bytes.
BODY=$(curl -s "http://127.0.0.1:$PORT/healthz")
sed -e "s|__PORT__|$NGINX_PORT|" -e "s|__PREFIX__|$PREFIX|g" -e "s|__BODY__|$BODY|" bench/nginx.conf.template > "$PREFIX/nginx.conf"
nginx -c "$PREFIX/nginx.conf" -p "$PREFIX"
sleep 0.5
read -r srps sp50 sp99 sbad < <(wrk_run "http://127.0.0.1:$PORT/healthz")
read -r nrps np50 np99 nbad < <(wrk_run "http://127.0.0.1:$NGINX_PORT/healthz")
errors=$((errors + sbad + nbad))
sratio=$(awk -v a="$srps" -v b="$nrps" 'BEGIN { printf "%.2f", a / b }')
printf '%-16s %10s %8s %8s %6s | %10s %8s %8s %6s | %11s | %6s  (nginx)\n' static_healthz "$srps" "$sp50" "$sp99" "$sbad" "$nrps" "$np50" "$np99" "$nbad" - "$sratio"
md+=$'\n'"| /healthz (ceiling: nginx) | $srps | $sp50 | $sp99 | $nrps | $np99 | | $sratio |"
rss_end=$(rss)
# RSS while holding IDLE idle keep-alive connections (each answered one request first).
python3 bench/idle_connections.py 127.0.0.1 "$PORT" "$IDLE" 3 > "$OUT/idle.txt" &
IDLER=$!
for _ in $(seq 1 120); do [[ -s $OUT/idle.txt ]] && break; sleep 0.5; done
read -r idle_answered idle_open < "$OUT/idle.txt" || { idle_answered=0 idle_open=0; }
rss_idle=$(rss)
wait $IDLER 2>/dev/null || true
printf '\ncreates/s while seeding: %s   RSS after seeding: %s MB, at the end: %s MB, holding %s idle connections (%s answered, %s open): %s MB\n' \
  "$seed_rate" "$rss_seeded" "$rss_end" "$IDLE" "$idle_answered" "$idle_open" "$rss_idle"
json+="},\"static\":{\"rps\":$srps,\"p99_ms\":$sp99,\"nginx_rps\":$nrps,\"nginx_p99_ms\":$np99,\"ratio\":$sratio},\"rss_mb_end\":$rss_end"
json+="${seeding_json:-},\"idle_connections\":{\"held\":$IDLE,\"answered\":$idle_answered,\"open\":$idle_open,\"rss_mb\":$rss_idle}}"
echo "$json" > "$OUT/latest.json"
printf '%s\n\nSEED=%s, %s connections, %s s each; errors: %s. Creates/s while seeding: %s. RSS: %s MB after seeding, %s MB at the end, %s MB holding %s idle connections.\n' \
  "$md" "$SEED" "$CONNECTIONS" "$DURATION" "$errors" "$seed_rate" "$rss_seeded" "$rss_end" "$rss_idle" "$IDLE" > "$OUT/latest.md"
python3 bench/chart.py "$OUT/latest.json" "$OUT/latest.svg"
if command -v rsvg-convert >/dev/null; then rsvg-convert -o "$OUT/latest.png" "$OUT/latest.svg"; fi
log "wrote $OUT/latest.json, latest.md, latest.svg and latest.png"
# A run with errors measured something else than the work it names: it fails.
(( errors == 0 )) || { log "FAILED: $errors error(s) (wrk: answers other than 2xx or socket errors; pgbench: failures)"; exit 1; }
