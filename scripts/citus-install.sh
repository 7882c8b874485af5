#!/usr/bin/env bash
# Builds and installs the Citus extension into the machine's PostgreSQL 15, unless it is already
# installed. Source: $CITUS_SOURCE, else ../shared/vendor/citus/citus-13.2.2.tar.gz, with the
# patch next to it (Citus 13.2.2's PG 15 compatibility header clashes with PostgreSQL 15.20).
#
# Needs postgresql-server-dev-15 (installed here when root). Installing it upgrades postgresql-15
# to the newest minor release, so run this before starting any cluster: a server started before
# the upgrade fails to load plpgsql in every new backend.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
pg_config_bin=/usr/lib/postgresql/15/bin/pg_config
vendor="${CITUS_VENDOR:-$here/../shared/vendor/citus}"
source_tarball="${CITUS_SOURCE:-$vendor/citus-13.2.2.tar.gz}"
patch_file="$vendor/pg15.20-have_createdb_privilege.patch"
build_dir="${CITUS_BUILD_DIR:-$here/.build-citus}"

if [ ! -x "$pg_config_bin" ] || [ ! -d "$("$pg_config_bin" --includedir-server 2>/dev/null)" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "citus-install: postgresql-server-dev-15 is missing and we are not root" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-server-dev-15 >&2
fi

if [ -f "$("$pg_config_bin" --pkglibdir)/citus.so" ]; then
    echo "citus-install: Citus already installed ($("$pg_config_bin" --pkglibdir)/citus.so)" >&2
    exit 0
fi

for tool in make gcc; do
    if ! command -v "$tool" >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q build-essential >&2
        break
    fi
done
# Citus's configure wants curl (anonymous statistics, disabled below), lz4 and zstd headers.
missing=()
for pkg in libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev libssl-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi

rm -rf "$build_dir"
mkdir -p "$build_dir"
tar -xzf "$source_tarball" -C "$build_dir" --strip-components=1
if [ -f "$patch_file" ] && ! grep -q citus_have_createdb_privilege "$build_dir/src/include/pg_version_compat.h"; then
    patch -d "$build_dir" -p1 < "$patch_file" >&2
fi
cd "$build_dir"
PG_CONFIG="$pg_config_bin" ./configure --without-libcurl >&2
make -j"$(nproc)" >&2
make install >&2
echo "citus-install: installed into $("$pg_config_bin" --pkglibdir)" >&2
