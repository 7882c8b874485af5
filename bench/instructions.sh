#!/usr/bin/env bash
# make bench-instructions: instructions per request, counted by valgrind's callgrind (stable on
# a noisy machine, unlike time). A release build of crm serves its own database (crm_bench on
# the private cluster) under callgrind; curl sends REQUESTS requests of each kind over one
# keep-alive connection while instrumentation is on. Every instruction is attributed once, by
# the source file (or library) it executes in (callgrind_annotate, self cost), and divided by
# REQUESTS:
#   parse       HTTP/HTTPRequestParser.swift, HTTPHeadParser.swift, HTTPHeaders.swift
#   route       Contacts/Routing/, Middleware/, Application/, ContactsAPI.swift, APIKey.swift, Crypto/SHA256.swift +
#               libcrypto, KeyGate.swift, KeyCache.swift, RefusedAuthentications.swift (routing, the middleware
#               chain, the key, its gate and rate limits)
#   parameters  Contacts/RequestParameters.swift, Codecs/FormURLEncoding.swift, FlatJSONObject.swift,
#               MultipartFormData.swift, Contacts/ContactValidation.swift, ContactOperation.swift,
#               ContactsAPI+Operations.swift
#   database    Postgres/*.swift, Contacts/ContactStore.swift, ContactSearchQuery.swift, libpq
#   render      Contacts/APIResponse.swift, Errors/APIError.swift, HTTP/HTTPResponseEncoder.swift,
#               Codecs/JSONWriter.swift, JSONValue.swift
#   server      the rest of HTTP/, Reactor/, Operations/ and Codecs/ (sockets, event loop, metrics,
#               log; digits and white space)
#   runtime     the Swift runtime and standard library, libc (retain/release, allocation, strings)
#   total       all of the above (user space only: the kernel's socket work is not counted)
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-500} PORT=18183
OUT=bench/results
mkdir -p "$OUT"
log() { echo "bench-instructions: $*" >&2; }
source bench/lib.sh

require valgrind=valgrind
release_build
fresh_database crm_bench
"$CRM" migrate >/dev/null
KEY=$("$CRM" key create --listing 1 --name instructions)
psql "$DATABASE_URL" -qc "INSERT INTO contacts (listing_id, email, first_name, last_name)
  SELECT 1, 'bench' || n || '@example.com', 'Bench' || n, 'Name' || n FROM generate_series(0, 999) n"

WORK=$(mktemp -d /tmp/crm-instructions.XXXXXX)
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out" \
  "$CRM" serve --host 127.0.0.1 --port $PORT --pool-size 2 --event-loops 1 > /dev/null 2> "$WORK/serve.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; [[ -n ${KEEP:-} ]] || rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

# One curl config per kind: REQUESTS requests on one connection, each its own `next` group
# (options such as data would otherwise accumulate over the whole config).
requests() {  # kind → curl config lines
  for ((n = 0; n < REQUESTS; n++)); do
    (( n == 0 )) || echo "next"
    echo "header = \"Authorization: Bearer $KEY\""
    case $1 in
      healthz) echo "url = \"http://127.0.0.1:$PORT/healthz\"" ;;
      get_by_email) echo "url = \"http://127.0.0.1:$PORT/crm/1?email=bench$((n % 1000))%40example.com\"" ;;
      post_create) echo "url = \"http://127.0.0.1:$PORT/crm/1\""; echo "data = \"email=ins-$n-$RANDOM%40example.com&first_name=Ins\"" ;;
    esac
    echo "output = /dev/null"
  done
}

printf '\n%-14s %9s %9s %10s %9s %9s %9s %9s %9s   (instructions per request, REQUESTS=%s)\n' \
  kind parse route parameters database render server runtime total "$REQUESTS"
json="{\"requests\":$REQUESTS"
for kind in healthz get_by_email post_create; do
  requests "$kind" > "$WORK/$kind.curl"
  # Warm up (prepared statements, pool connections, caches), then count.
  curl -s -K <(awk '$0 == "next" && ++groups == 10 { exit } { print }' "$WORK/$kind.curl") >/dev/null
  callgrind_control -z $SERVER >/dev/null
  callgrind_control -i on $SERVER >/dev/null
  curl -s -K "$WORK/$kind.curl" >/dev/null
  status=$(curl -s -o /dev/null -w '%{http_code}' -K <(awk '$0 == "next" { exit } !/^output/ { print }' "$WORK/$kind.curl"))
  [[ $kind != post_create ]] || status=201  # the same create twice would be a duplicate
  [[ $status =~ ^2 ]] || { echo "bench-instructions: $kind answers $status" >&2; exit 1; }
  callgrind_control -i off $SERVER >/dev/null
  callgrind_control -d "$kind" $SERVER >/dev/null
  dump=$(ls -t "$WORK"/callgrind.out.* | head -n 1)
  callgrind_annotate --inclusive=no --threshold=100 "$dump" > "$WORK/$kind.txt" 2>/dev/null
  read -r parse route parameters database render server runtime total < <(awk -v n="$REQUESTS" '
    function num(s) { gsub(/,/, "", s); return s + 0 }
    /^ *[0-9,]+ \( *[0-9.]+%\)  [^ ]+:/ && !/PROGRAM TOTALS/ {
      ir = num($1); rest = substr($0, index($0, ")") + 3); split(rest, parts, " "); where = parts[1]; object = $NF
      if (where ~ /HTTP\/(HTTPRequestParser|HTTPHeadParser|HTTPHeaders)\.swift/) c["parse"] += ir
      else if (where ~ /Contacts\/(Routing|Middleware|Application)\/|Contacts\/(ContactsAPI|ContactsAPI\+ClientAddress|APIKey|KeyGate|KeyCache|RefusedAuthentications)\.swift|Crypto\/SHA256\.swift/ || object ~ /libcrypto/) c["route"] += ir
      else if (where ~ /Contacts\/(RequestParameters|ContactValidation|ContactOperation|ContactsAPI\+Operations)\.swift|Codecs\/(FormURLEncoding|FlatJSONObject|MultipartFormData|BodyDecodingError)\.swift/) c["parameters"] += ir
      else if (where ~ /Postgres\/|Contacts\/(ContactStore|ContactSearchQuery)\.swift/ || object ~ /libpq/) c["database"] += ir
      else if (where ~ /Contacts\/(APIResponse|Errors\/APIError)\.swift|HTTP\/HTTPResponseEncoder\.swift|Codecs\/(JSONWriter|JSONValue)\.swift/) c["render"] += ir
      else if (where ~ /Sources\/(HTTP|Reactor|Operations|Codecs)\//) c["server"] += ir
      else c["runtime"] += ir
      total += ir
    }
    END { printf "%d %d %d %d %d %d %d %d\n", c["parse"] / n, c["route"] / n, c["parameters"] / n, c["database"] / n,
          c["render"] / n, c["server"] / n, c["runtime"] / n, total / n }' "$WORK/$kind.txt")
  printf '%-14s %9s %9s %10s %9s %9s %9s %9s %9s\n' "$kind" "$parse" "$route" "$parameters" "$database" "$render" "$server" "$runtime" "$total"
  json+=",\"$kind\":{\"parse\":$parse,\"route\":$route,\"parameters\":$parameters,\"database\":$database,\"render\":$render,\"server\":$server,\"runtime\":$runtime,\"total\":$total}"
done
echo "$json}" > "$OUT/instructions.json"
log "wrote $OUT/instructions.json"
