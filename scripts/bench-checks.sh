#!/usr/bin/env bash
# Measures what issue 20 adds (see docs/benchmarks.md):
#   1. `cargo xtask ci` on a warm copy of demo/ with and without the new
#      steps (xref, gettext, docs, audit), alternating, RUNS times each: the
#      wall each adds (JSON wall_ms), and each new step's own time
#   2. `cargo xtask xref` alone on the warm demo (hyperfine)
#   3. the size of _build/xtask/report.html after those runs, and the time
#      to render and write it (the ignored timing test in report_html.rs,
#      14 steps, 10 slowest tests, a failure)
#
# Usage: scripts/bench-checks.sh [RUNS]   (default 3)
# Uses the debug build (as the tests do); images as for xtask (the local
# stand-ins when the official ones are absent).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-3}"
command -v hyperfine >/dev/null || { echo "install hyperfine" >&2; exit 1; }
command -v jq >/dev/null || { echo "install jq" >&2; exit 1; }
export XTASK_POSTGRES_IMAGE="${XTASK_POSTGRES_IMAGE:-phx-xtask-local/postgres:15}"
export XTASK_REDIS_IMAGE="${XTASK_REDIS_IMAGE:-phx-xtask-local/redis:7}"
cargo build -q -p xtask
xtask="$root/target/debug/xtask"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r demo "$work/demo"
rm -rf "$work/demo/_build" "$work/demo/deps" "$work/demo/assets/node_modules"
migrate=$(sed -n '/^\[migrate\]/,$p' xtask.toml)
old='steps = ["deps", "format", "compile", "credo", "sobelow", "dialyzer", "assets", "test", "migrations"]'
write_config() { printf 'app_dir = "demo"\n[ci]\n%s\n%s\n' "$1" "$migrate" > "$work/xtask.toml"; }
run_ci() { XTASK_CONFIG="$work/xtask.toml" XTASK_ROOT="$root" "$xtask" ci --output json 2>/dev/null; }

write_config ""
run_ci > /dev/null || true   # warm: deps, builds, PLT, node_modules
for i in $(seq "$runs"); do
  write_config "$old"
  without=$(run_ci | jq .wall_ms)
  write_config ""
  report=$(run_ci)
  with=$(echo "$report" | jq .wall_ms)
  steps=$(echo "$report" | jq -r '[.steps[] | select(.step | IN("xref","gettext","docs","audit")) | "\(.step) \(.status) \(.duration_ms)ms"] | join(", ")')
  crit=$(echo "$report" | jq -r '.critical_path | join(" > ")')
  echo "run $i: ci without the new steps ${without} ms, with ${with} ms ($steps; critical path $crit)"
done
ls -l "$work/demo/_build/xtask/report.html" | awk '{print "report.html: " $5 " bytes"}'

cd "$work"
hyperfine -w 1 -r 5 "XTASK_CONFIG=$work/xtask.toml XTASK_ROOT=$root $xtask xref -q"
cd "$root"
cargo test -q -p phx-xtask --lib report_html::tests::time_to_write -- --ignored --nocapture 2>&1 | grep 'report.html'
