#!/usr/bin/env bash
# make bench-imports: bulk import and export end to end (API.md §12, issue 16).
#
# One release build of crm serving its own database (crm_bench_imports on the private cluster):
#  1. import: a CSV of ROWS (1,000,000) new contacts, and one of SMALL_ROWS (30,000), each timed
#     from the first byte sent (curl --data-binary) until GET …/imports/{id} says completed, split
#     into upload (until the 202) and apply; the server's peak RSS during each (VmHWM, reset
#     through /proc/PID/clear_refs just before) minus its RSS before;
#  2. export: GET /crm/1/export of the ROWS contacts to /dev/null against the cheapest correct
#     SQL for the same rows, `psql -c "\copy (SELECT …) TO '/dev/null' (FORMAT csv, HEADER)"`,
#     ROUNDS (3) alternating rounds; prints each, the ratio of the medians (ours/psql, rates) and
#     the server's RSS growth during an export.
# Only ratios are comparable between runs: curl, the server and PostgreSQL share the two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000} SMALL_ROWS=${SMALL_ROWS:-30000} ROUNDS=${ROUNDS:-3} POOL=${POOL:-16}
PORT=18186
OUT=bench/results
mkdir -p "$OUT"
log() { echo "bench-imports: $*" >&2; }
source bench/lib.sh

require curl=curl
release_build
fresh_database crm_bench_imports
KEY=$("$CRM" key create --listing 1 --name bench)
KEY2=$("$CRM" key create --listing 2 --name bench-small2)
sql() { psql "$DATABASE_URL" -tAqc "$1"; }

FILES=$(mktemp -d /tmp/crm-bench-imports.XXXXXX)
"$CRM" serve --host 127.0.0.1 --port $PORT --pool-size "$POOL" > /dev/null 2> "$OUT/serve-imports.err" &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; rm -rf "$FILES"; }
trap cleanup EXIT
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.2; done

# make_csv ROWS PREFIX FILE: new contacts, every field filled (about 90 bytes a row)
make_csv() {
  awk -v rows="$1" -v prefix="$2" 'BEGIN {
    print "email,phone,first_name,last_name,ip_address"
    for (i = 1; i <= rows; i++) printf "%s%d@example.com,+1 555 %07d,First%d,Last %d,192.0.2.%d\n", prefix, i, i, i, i, i % 250
  }' > "$3"
}
rss_kib() { awk -v f="$2" '$1 == f":" { print $2 }' "/proc/$1/status"; }

# import_file LISTING KEY FILE LABEL: prints the timings and the RSS growth
import_file() {
  local before started uploaded id status peak
  before=$(rss_kib "$SERVER" VmRSS)
  echo 5 > "/proc/$SERVER/clear_refs"
  started=$(date +%s.%N)
  id=$(curl -sf -H "Authorization: Bearer $2" -H "Content-Type: text/csv" --data-binary "@$3" \
       "http://127.0.0.1:$PORT/crm/$1/imports" | sed -E 's/.*"import_id":([0-9]+).*/\1/')
  uploaded=$(date +%s.%N)
  until status=$(curl -sf -H "Authorization: Bearer $2" "http://127.0.0.1:$PORT/crm/$1/imports/$id" \
                 | sed -E 's/.*"status":"([a-z]+)".*/\1/') && [[ $status == completed || $status == failed ]]; do sleep 0.05; done
  local finished; finished=$(date +%s.%N)
  peak=$(rss_kib "$SERVER" VmHWM)
  awk -v l="$4" -v s="$started" -v u="$uploaded" -v f="$finished" -v b="$before" -v p="$peak" -v st="$status" 'BEGIN {
    printf "%-22s %s in %6.1f s (upload %5.1f s, apply %5.1f s); server RSS +%.1f MiB\n", l, st, f - s, u - s, f - u, (p - b) / 1024 }'
}

log "generating files"
make_csv "$SMALL_ROWS" small "$FILES/small.csv"
make_csv "$ROWS" big "$FILES/big.csv"
{
  echo "# make bench-imports $(date -u +%F\ %H:%M) — $ROWS and $SMALL_ROWS rows"
  import_file 2 "$KEY2" "$FILES/small.csv" "import $SMALL_ROWS rows"
  import_file 1 "$KEY" "$FILES/big.csv" "import $ROWS rows"

  SELECT_LIST="contact_id, unique_id AS contact_unique_id, first_name AS contact_first_name, last_name AS contact_last_name, email AS contact_email, phone AS contact_phone, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS contact_created_date, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS contact_updated_date, host(ip_address) AS contact_ip_address, source AS contact_source, status AS contact_status"
  ours=() theirs=()
  for round in $(seq "$ROUNDS"); do
    before=$(rss_kib "$SERVER" VmRSS); echo 5 > "/proc/$SERVER/clear_refs"
    start=$(date +%s.%N)
    curl -sf -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/crm/1/export" -o /dev/null
    ours+=("$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')")
    growth=$(awk -v b="$before" -v p="$(rss_kib "$SERVER" VmHWM)" 'BEGIN { printf "%.1f", (p - b) / 1024 }')
    start=$(date +%s.%N)
    psql "$DATABASE_URL" -Xqc "\\copy (SELECT $SELECT_LIST FROM contacts WHERE listing_id = 1 ORDER BY contact_id) TO '/dev/null' WITH (FORMAT csv, HEADER true)"
    theirs+=("$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')")
    printf "export round %d: ours %.2f s, psql \\\\copy %.2f s; server RSS +%s MiB\n" "$round" "${ours[-1]}" "${theirs[-1]}" "$growth"
  done
  median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
  awk -v o="$(median "${ours[@]}")" -v t="$(median "${theirs[@]}")" -v n="$ROWS" 'BEGIN {
    printf "export %d rows: ours %.2f s (%.0f rows/s), psql %.2f s (%.0f rows/s): ours/psql rate %.2f\n", n, o, n / o, t, n / t, t / o }'
} | tee "$OUT/imports.txt"
