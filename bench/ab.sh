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
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a binaries <<< "${BINARIES:?BINARIES: two or more crm executables}"
SCENARIOS=${SCENARIOS:-"healthz get_by_email mixed"} ROUNDS=${ROUNDS:-6} DURATION=${DURATION:-10}
log() { echo "bench-ab: $*" >&2; }
source bench/lib.sh
require wrk=wrk
BASE_URL=$(bash scripts/local-postgres.sh url)
export DATABASE_URL=${BASE_URL/\/crm\?/\/crm_bench?}
sql() { psql "$DATABASE_URL" -tAqc "$1"; }
[[ $(sql "SELECT count(*) FROM contacts WHERE email LIKE 'bench%'" 2>/dev/null || echo 0) -gt 0 ]] ||
  { log "crm_bench has no seeded contacts: run make bench first"; exit 1; }
export CRM_KEY=$("${binaries[0]}" key create --listing 1 --name bench-ab) CRM_LISTING=1
export CRM_CONTACTS=$(sql "SELECT count(*) FROM contacts WHERE listing_id = 1")
read -r CRM_MIN_ID CRM_MAX_ID < <(sql "SELECT min(contact_id), max(contact_id) FROM contacts WHERE email LIKE 'bench%'" | tr '|' ' ')
export CRM_MIN_ID CRM_MAX_ID
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for i in "${!binaries[@]}"; do
  "${binaries[$i]}" serve --host 127.0.0.1 --port $((18300 + i)) --pool-size 16 > /dev/null 2>&1 &
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
      rate[$i]=$(wrk -t2 -c64 -d"${DURATION}s" "${args[@]}" | awk '/Requests\/sec/ { printf "%.0f", $2 }')
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
