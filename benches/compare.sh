#!/usr/bin/env bash
# hedge against Unbound, dnsmasq and Knot Resolver on one machine, on
# loopback, with the same block set and queries (benches/compare.py does the
# work; benches/README.md says what it measures and records the results).
#
#   bash benches/compare.sh                       # the real lists, 15 s runs
#   bash benches/compare.sh --names 1000000       # topped up to 1M names
#   bash benches/compare.sh --seconds 30 --servers hedge,dnsmasq
#
# Needs root to install the Debian packages if they are missing, and the
# shared data beside the project (../shared/data, or HEDGE_DATA).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v unbound >/dev/null || need+=(unbound)
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
command -v kresd >/dev/null || need+=(knot-resolver)
command -v taskset >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --locked -q
exec python3 benches/compare.py --hedge target/release/hedge "$@"
