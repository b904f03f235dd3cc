#!/usr/bin/env bash
# The central-store benchmark (benches/central.rs) against a throwaway
# PostgreSQL 15 cluster: made in a temporary directory on a free loopback
# port, durability settings as PostgreSQL ships them (fsync, synchronous
# commit and full-page writes on) except shared_buffers=256MB and
# max_connections=150 (50 sites with two connections each), removed
# afterwards whatever happens.
#
#   bash benches/central.sh                # builds the bench, runs it all
#   HEDGE_BENCH_ONLY=ship bash benches/central.sh
#   BENCH=path/to/central-HASH HEDGE_BIN=path/to/hedge bash benches/central.sh
#
# Runs as root (the cluster as the postgres user) or as any user who may
# run initdb. Every HEDGE_BENCH_* setting of benches/central.rs passes
# through. PGBIN picks the PostgreSQL binaries (/usr/lib/postgresql/15/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
work=$(mktemp -d "${HEDGE_BENCH_PGDIR:-/var/tmp}/hedge-central.XXXXXX")
chmod 755 "$work"

if [ -z "${BENCH:-}" ]; then
    cargo bench --no-run --locked --bench central --message-format=json >"$work/build.json"
    BENCH=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "central" and m.get("executable"):
        print(m["executable"])
' "$work/build.json")
    HEDGE_BIN=${HEDGE_BIN:-$(dirname "$(dirname "$BENCH")")/hedge}
fi
# Copies, so that another build into the same target directory cannot
# change what is measured half-way.
cp "$BENCH" "$work/central-bench"
if [ -n "${HEDGE_BIN:-}" ]; then
    cp "$HEDGE_BIN" "$work/hedge"
    export HEDGE_BIN="$work/hedge"
fi

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
mkdir "$work/pg"
printf '%s\n' "$password" >"$work/pg/pw"
printf '%s\n' "$password" >"$work/password"
chmod 600 "$work/password"
[ "$(id -u)" = 0 ] && chown -R postgres: "$work/pg"

cleanup() {
    as_pg "$PGBIN/pg_ctl" -D "$work/pg/data" stop -m fast >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

as_pg "$PGBIN/initdb" -D "$work/pg/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$work/pg/pw" >"$work/initdb.log"
rm "$work/pg/pw"
as_pg "$PGBIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w start -o \
    "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work/pg \
     -c shared_buffers=256MB -c max_connections=150" >/dev/null

echo "central bench: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') at 127.0.0.1:$port, data in $work/pg/data"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/ {print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg); $(df -h --output=avail "$work" | tail -1 | tr -d ' ') free"

HEDGE_CENTRAL_URL="postgres://postgres@127.0.0.1:$port/postgres" \
    HEDGE_CENTRAL_PASSWORD_FILE="$work/password" \
    "$work/central-bench"
