#!/usr/bin/env bash
# make bench-ab: two or more builds of crm side by side, for a before/after comparison that
# machine drift cannot bias. Each binary serves the database `make bench` seeded (crm_bench;
# run that first) on its own port; then, for each scenario, ROUNDS rounds of wrk (64
# connections, DURATION seconds) go to each binary in turn, the order rotating every round and
# reversed every other round, so that a slow-down within a round (write scenarios slow as their
# tables grow, the machine's speed drifts) favours none. Prints each round and the mean per
# binary, with its change against the first.
#
# Usage: BINARIES="old/crm .build/release/crm" make bench-ab   (SCENARIOS, ROUNDS 6, DURATION 10)
# DATABASES="crm_bench_old crm_bench" gives each binary its own database (one name each, on the
# same cluster), for builds whose schemas differ: each seeded by `make bench` of its own commit
# (then renamed), each binary with its own key and ids.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a binaries <<< "${BINARIES:?BINARIES: two or more crm executables}"
SCENARIOS=${SCENARIOS:-"healthz get_by_email mixed"} ROUNDS=${ROUNDS:-6} DURATION=${DURATION:-10}
log() { echo "bench-ab: $*" >&2; }
source bench/lib.sh
require wrk=wrk
BASE_URL=$(bash scripts/local-postgres.sh url)
read -r -a databases <<< "${DATABASES:-}"
(( ${#databases[@]} == 0 )) && for _ in "${binaries[@]}"; do databases+=(crm_bench); done
(( ${#databases[@]} == ${#binaries[@]} )) || { log "DATABASES: one database per binary"; exit 1; }
# Per binary: its database's URL, and what the wrk scripts read (key, listing size, seeded ids).
urls=() migrations=() keys=() contacts=() min_ids=() max_ids=()
for i in "${!binaries[@]}"; do
  url=${BASE_URL/\/crm\?/\/${databases[$i]}?}
  sql() { psql "$url" -tAqc "$1"; }
  [[ $(sql "SELECT count(*) FROM contacts WHERE email LIKE 'bench%'" 2>/dev/null || echo 0) -gt 0 ]] ||
    { log "${databases[$i]} has no seeded contacts: run make bench first"; exit 1; }
  urls+=("$url")
  # Each binary migrates with its own checkout's sql/ (a .build/ path's), else ./sql.
  dir=${binaries[$i]%%/.build/*}/sql; [[ -d $dir ]] || dir=sql
  migrations+=("$dir")
  keys+=("$(DATABASE_URL=$url CRM_MIGRATIONS_DIR=$dir "${binaries[$i]}" key create --listing 1 --name bench-ab)")
  contacts+=("$(sql "SELECT count(*) FROM contacts WHERE listing_id = 1")")
  read -r low high < <(sql "SELECT min(contact_id), max(contact_id) FROM contacts WHERE email LIKE 'bench%'" | tr '|' ' ')
  min_ids+=("$low") max_ids+=("$high")
done
export CRM_LISTING=1
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for i in "${!binaries[@]}"; do
  DATABASE_URL=${urls[$i]} CRM_MIGRATIONS_DIR=${migrations[$i]} "${binaries[$i]}" serve --host 127.0.0.1 --port $((18300 + i)) --pool-size 16 > /dev/null 2>&1 &
  pids+=($!)
  until curl -sf "http://127.0.0.1:$((18300 + i))/healthz" > /dev/null; do sleep 0.2; done
done
count=${#binaries[@]}
for scenario in $SCENARIOS; do
  declare -A sum=()
  for ((round = 1; round <= ROUNDS; round++)); do
    order=()
    for ((i = 0; i < count; i++)); do order+=($(((i + round) % count))); done
    (( round % 2 == 0 )) && order=($(printf '%s\n' "${order[@]}" | tac))
    declare -A rate=()
    for i in "${order[@]}"; do
      url="http://127.0.0.1:$((18300 + i))"
      if [[ $scenario == healthz ]]; then args=("$url/healthz"); else args=(-s "bench/wrk/$scenario.lua" "$url"); fi
      rate[$i]=$(CRM_KEY=${keys[$i]} CRM_CONTACTS=${contacts[$i]} CRM_MIN_ID=${min_ids[$i]} CRM_MAX_ID=${max_ids[$i]} \
        wrk -t2 -c64 -d"${DURATION}s" "${args[@]}" | awk '/Requests\/sec/ { printf "%.0f", $2 }')
      sum[$i]=$(( ${sum[$i]:-0} + ${rate[$i]} ))
    done
    line="$scenario round $round:"; for ((i = 0; i < count; i++)); do line+=" ${rate[$i]}"; done; echo "$line"
  done
  line="$scenario mean:"
  for ((i = 0; i < count; i++)); do
    line+=" $(( sum[$i] / ROUNDS ))"
    (( i > 0 )) && line+=" ($(awk -v a="${sum[$i]}" -v b="${sum[0]}" 'BEGIN { printf "%+.1f%%", (a - b) / b * 100 }'))"
  done
  echo "$line"
done
