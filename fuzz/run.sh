#!/usr/bin/env bash
# Runs every fuzz target for a while (default 600 s each, two at a time on
# a two-core machine) and prints each one's final statistics. Not part of
# the default test run: see fuzz/README.md.
#
#   bash fuzz/run.sh            # 10 minutes per target
#   bash fuzz/run.sh 60         # a minute per target
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz needs nightly flags; this toolchain allows them so.
export RUSTC_BOOTSTRAP=1
TARGETS="dns_request list_parsers config_loader admin_request"
# Build each target first, one at a time, with the flags `cargo fuzz run`
# uses (`cargo fuzz build` differs, and two runs building at once would
# each compile hedge with the sanitizers: ten minutes apiece on two cores).
for target in $TARGETS; do
  cargo fuzz run "$target" -O -- -runs=0 >"target/$target.build.log" 2>&1 ||
    { echo "$target: build failed, see fuzz/target/$target.build.log"; exit 1; }
done
run() {
  cargo fuzz run "$1" -O -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
    -print_final_stats=1 >"target/$1.log" 2>&1 || { echo "$1: FAILED, see fuzz/target/$1.log and fuzz/artifacts/$1"; return 1; }
  echo "$1: $(grep -E 'stat::number_of_executed_units' "target/$1.log" | awk '{print $2}') executions, no crash"
}
status=0
run dns_request & a=$!; run list_parsers & b=$!
wait $a || status=1; wait $b || status=1
run config_loader & a=$!; run admin_request & b=$!
wait $a || status=1; wait $b || status=1
exit $status
