#!/usr/bin/env bash
# Cached-answer throughput over UDP: hedge against Unbound, both forwarding
# to the same local authoritative upstream, measured with dnsperf in one run.
#
#   bash benches/compare.sh            # 15 s per resolver
#   SECONDS_PER_RUN=30 bash benches/compare.sh
#
# Everything listens on 127.0.0.1; nothing leaves the machine. Needs the
# Debian packages dnsperf and unbound (installed here if missing, as root).
set -euo pipefail

cd "$(dirname "$0")/.."
RUN=${SECONDS_PER_RUN:-15}
CLIENTS=${CLIENTS:-20}
UPSTREAM_PORT=5391
HEDGE_PORT=5392
UNBOUND_PORT=5393
NAMES=1000

if ! command -v dnsperf >/dev/null || ! command -v unbound >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dnsperf unbound >/dev/null
fi
cargo build --release --locked -q
HEDGE=target/release/hedge

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The upstream: hedge itself answering one zone authoritatively (it is only
# asked once per name; every measured query is a cache hit).
{
  echo '$ORIGIN bench.example.'
  echo '$TTL 86400'
  echo '@ IN SOA ns.bench.example. admin.bench.example. 1 3600 600 86400 60'
  echo '@ IN NS ns.bench.example.'
  echo 'ns IN A 192.0.2.1'
  for i in $(seq 1 $NAMES); do echo "host$i IN A 198.51.100.$((i % 250 + 1))"; done
} > "$work/bench.zone"
cat > "$work/upstream.toml" <<TOML
[server]
listen = ["127.0.0.1:$UPSTREAM_PORT"]
rate_limit_qps = 0
[upstream]
servers = ["127.0.0.1:9"]
[[zones]]
name = "bench.example"
file = "$work/bench.zone"
[admin]
socket = "$work/upstream.sock"
TOML
cat > "$work/hedge.toml" <<TOML
[server]
listen = ["127.0.0.1:$HEDGE_PORT"]
rate_limit_qps = 0
[upstream]
servers = ["127.0.0.1:$UPSTREAM_PORT"]
cache_size = 100000
[admin]
socket = "$work/hedge.sock"
TOML
cat > "$work/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$UNBOUND_PORT
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  num-threads: 2
  chroot: ""
  username: ""
  pidfile: ""
  logfile: ""
  use-syslog: no
  verbosity: 0
  module-config: "iterator"
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@$UPSTREAM_PORT
CONF

for i in $(seq 1 $NAMES); do echo "host$i.bench.example A"; done > "$work/queries.txt"

RUST_LOG=warn $HEDGE serve -c "$work/upstream.toml" & pids+=($!)
RUST_LOG=warn $HEDGE serve -c "$work/hedge.toml" & pids+=($!)
unbound -d -c "$work/unbound.conf" & pids+=($!)
sleep 1

measure() { # name port
  # Warm the cache, then measure.
  dnsperf -s 127.0.0.1 -p "$2" -d "$work/queries.txt" -n 1 -c 4 >/dev/null 2>&1 || true
  local out
  out=$(dnsperf -s 127.0.0.1 -p "$2" -d "$work/queries.txt" -l "$RUN" -c "$CLIENTS" -T 1 2>&1)
  local qps lost lat
  qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
  lost=$(awk '/Queries lost/ {print $3}' <<<"$out")
  lat=$(awk '/Average Latency/ {print $4}' <<<"$out")
  printf '%-8s %12s qps   lost %-8s avg latency %ss\n' "$1" "$qps" "$lost" "$lat" >&2
  echo "$qps"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')" >&2
echo "dnsperf: $RUN s, $CLIENTS clients, $NAMES names, all cached" >&2
hedge_qps=$(measure hedge $HEDGE_PORT)
unbound_qps=$(measure unbound $UNBOUND_PORT)
awk -v h="$hedge_qps" -v u="$unbound_qps" 'BEGIN { printf "hedge / unbound = %.2f\n", h / u }' >&2
