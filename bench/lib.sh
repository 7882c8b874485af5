# Shared by the bench scripts (run.sh, http.sh, instructions.sh, soak.sh); source it from the
# repository root. Each script defines log() first.

SWIFT=${SWIFT:-$(command -v swift || echo /opt/swift/usr/bin/swift)}

# require COMMAND=PACKAGE…: installs the packages of missing commands (apt-get, as root) or
# says how to.
require() {
  local packages=() pair
  for pair in "$@"; do command -v "${pair%%=*}" >/dev/null || packages+=("${pair#*=}"); done
  (( ${#packages[@]} == 0 )) && return 0
  [[ $EUID -eq 0 ]] || { echo "install ${packages[*]}: sudo apt-get install -y ${packages[*]}" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
}

# release_build PRODUCT: a release build of PRODUCT (crm by default); sets CRM to crm's binary.
release_build() {
  log "release build"
  "$SWIFT" build -c release --product "${1:-crm}" >&2
  CRM=.build/release/crm
}

# fresh_database NAME: starts the private cluster, recreates database NAME on it and exports
# DATABASE_URL for it (BASE_URL is the cluster's own database).
fresh_database() {
  bash scripts/local-postgres.sh start
  BASE_URL=$(bash scripts/local-postgres.sh url)
  psql "$BASE_URL" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
  export DATABASE_URL=${BASE_URL/\/crm\?/\/$1?}
}
