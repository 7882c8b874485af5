#!/usr/bin/env bash
# make bench-http: wrk against bench-http-server and against nginx serving the same ~300-byte
# JSON body, side by side in one run, 64 keep-alive connections. Both servers, wrk and the
# machine's other load share the same cores, so only the ratio is meaningful.
#
# Environment: DURATION (seconds per run, default 10), CONNECTIONS (64), THREADS (wrk, 2),
# ROUNDS (alternating rounds per server, default 2), LOOPS (server event loops, default: cores).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10} CONNECTIONS=${CONNECTIONS:-64} THREADS=${THREADS:-2} ROUNDS=${ROUNDS:-2}
LOOPS=${LOOPS:-$(nproc)}
OURS_PORT=18081 NGINX_PORT=18082
log() { echo "bench-http: $*" >&2; }
source bench/lib.sh

require wrk=wrk nginx=nginx-light
release_build bench-http-server
BODY=$(sed -n 's/.*static let json = #"\(.*\)"#.*/\1/p' bench/http-server/BenchBody.swift)
PREFIX=$(mktemp -d /tmp/crm-bench-nginx.XXXXXX)
sed -e "s|__PORT__|$NGINX_PORT|" -e "s|__PREFIX__|$PREFIX|g" -e "s|__BODY__|$BODY|" bench/nginx.conf.template > "$PREFIX/nginx.conf"

.build/release/bench-http-server "$OURS_PORT" "$LOOPS" >/dev/null &
OURS_PID=$!
nginx -c "$PREFIX/nginx.conf" -p "$PREFIX"
cleanup() { kill "$OURS_PID" 2>/dev/null || true; [[ -f $PREFIX/nginx.pid ]] && kill "$(cat "$PREFIX/nginx.pid")" 2>/dev/null || true; rm -rf "$PREFIX"; }
trap cleanup EXIT
sleep 1
cmp <(curl -s "http://127.0.0.1:$OURS_PORT/") <(curl -s "http://127.0.0.1:$NGINX_PORT/") || { echo "the two bodies differ" >&2; exit 1; }

# wrk's summary as "requests/s p50_ms p99_ms errors".
measure() {
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$1/" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx|Socket errors/ { errors += $NF + 0 }
    END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, errors }'
}

declare -a ours nginx
for ((round = 1; round <= ROUNDS; round++)); do
  ours+=("$(measure $OURS_PORT)")
  nginx+=("$(measure $NGINX_PORT)")
done
mean() { printf '%s\n' "$@" | awk -v f="$FIELD" '{ s += $f } END { printf "%.3f", s / NR }'; }
report() {
  local name=$1; shift
  FIELD=1 rps=$(mean "$@"); FIELD=2 p50=$(mean "$@"); FIELD=3 p99=$(mean "$@"); FIELD=4 errors=$(mean "$@")
  printf '%-18s %12.0f %10.3f %10.3f %8.0f\n' "$name" "$rps" "$p50" "$p99" "$errors"
  eval "${name//[^a-z]/_}_rps=$rps"
}
echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS alternating rounds each, $(nproc) cores shared by everything"
printf '%-18s %12s %10s %10s %8s\n' server "requests/s" "p50 ms" "p99 ms" errors
report crm-http "${ours[@]}"
report nginx "${nginx[@]}"
awk -v a="$crm_http_rps" -v b="$nginx_rps" 'BEGIN { printf "ratio crm-http / nginx: %.2f\n", a / b }'
