#!/usr/bin/env bash
# Measures the scale-out of a suite over N legs (issue 18; see
# docs/benchmarks.md), on tests/fixtures/skewed (four slow files among
# thirteen, all `async: false`), N = 4:
#   1. each leg's test time with the split by the merge's timings, against
#      ExUnit's own `mix test --partitions 4` (MIX_TEST_PARTITION=1..4): the
#      slowest leg and slowest / mean, from ExUnit's "Finished in" line, with
#      the same files each way, one after the other on this machine;
#   2. each leg's time before its first test (`cargo xtask test --partition
#      K/4`, services native), as leg.json records it;
#   3. the merge's wall time (`cargo xtask merge`, the test build warm).
# Every leg runs in its own copy of the fixture, as on its own machine.
#
# Usage: scripts/bench-scaleout.sh
# Needs mix, postgres and redis-server (the native backend), and jq.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
n=4

die() { printf 'bench-scaleout: error: %s\n' "$*" >&2; exit 1; }
command -v jq >/dev/null || die "install jq (apt-get install jq)"
# The debug build: the figures are the legs' and mix's, not xtask's own.
cargo build -q -p xtask
bin="$root/target/debug/xtask"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# A copy of the fixture as a fresh clone has it, with its own config.
copy() {
  mkdir -p "$work/$1"
  git ls-files -co --exclude-standard tests/fixtures/skewed | while read -r f; do
    rel=${f#tests/fixtures/skewed/}
    mkdir -p "$work/$1/app/$(dirname "$rel")" && cp "$f" "$work/$1/app/$rel"
  done
  printf 'app_dir = "app"\n' >"$work/$1/xtask.toml"
}
xt() { XTASK_CONFIG="$work/$1/xtask.toml" "$bin" "${@:2}"; }
for k in $(seq $n) merge; do copy "$k"; done

# slowest, mean and slowest/mean of the numbers on stdin.
balance() { awk '{s+=$1; if ($1>m) m=$1} END {printf "slowest %.2f s, mean %.2f s, balance %.2f", m, s/NR, m/(s/NR)}'; }
finished() { sed -n 's/^Finished in \([0-9.]*\) seconds.*/\1/p'; }

echo "== legs with timings: round 1 learns them, round 2 splits by them"
for round in 1 2; do
  timings=()
  [ "$round" = 2 ] && timings=(--timings "$work/merge/app/_build/xtask/test-timings.json")
  for k in $(seq $n); do
    xt "$k" test -q --services native --partition "$k/$n" "${timings[@]}" >/dev/null 2>&1 ||
      die "leg $k/$n of round $round failed"
  done
  start=$(now_ms)
  xt merge merge -q "$work"/{1,2,3,4}/app/_build/xtask/shard-* >/dev/null 2>&1 || die "merge $round failed"
  merge_ms=$(($(now_ms) - start))
  for k in $(seq $n); do
    jq -r --arg r "$round" '"round \($r) leg \(.k)/\(.n): \(.files | length) files, first test after \(.before_first_test) s, tests \(.tests_time) s"' \
      "$work/$k/app/_build/xtask/shard-$k-of-$n/leg.json"
  done
  echo "round $round merge: ${merge_ms} ms"
done

echo "== ExUnit 'Finished in' per leg: the split by timings against mix test --partitions $n"
ours=() theirs=()
for k in $(seq $n); do
  mapfile -t files < <(jq -r '.files[]' "$work/$k/app/_build/xtask/shard-$k-of-$n/leg.json")
  ours+=("$(cd "$work/$k/app" && MIX_ENV=test mix test "${files[@]}" 2>&1 | finished)")
  theirs+=("$(cd "$work/$k/app" && MIX_ENV=test MIX_TEST_PARTITION=$k mix test --partitions $n 2>&1 | finished)")
done
printf 'by timings:    %s  (%s)\n' "$(printf '%s\n' "${ours[@]}" | balance)" "${ours[*]}"
printf 'ExUnit hash:   %s  (%s)\n' "$(printf '%s\n' "${theirs[@]}" | balance)" "${theirs[*]}"
