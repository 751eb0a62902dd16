#!/usr/bin/env bash
# Measures phx-xtask on the demo (issue figures; see docs/benchmarks.md):
#   1. `cargo xtask ci` against the same steps run one after another
#   2. runner overhead: `xtask format` against `mix format --check-formatted`
#   3. `xtask list` on a built binary
#   4. dialyzer with a warm PLT against a cold one
#   5. (--cold-build) the cold `cargo build -p xtask` from an empty target dir
# Warm caches throughout, except where "cold" says otherwise. Needs hyperfine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v hyperfine >/dev/null || { echo "bench: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }

cargo build --release -q -p xtask
bin="$root/target/release/xtask"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A copy of the demo as a fresh clone has it, with a config of its own that
# runs the quality steps only (the services' figures are in bench-services.sh).
git ls-files -co --exclude-standard demo | while read -r f; do
  mkdir -p "$work/$(dirname "$f")" && cp "$f" "$work/$f"
done
cat >"$work/xtask.toml" <<TOML
app_dir = "demo"
[ci]
steps = ["deps", "format", "compile", "credo", "sobelow", "dialyzer", "assets"]
[assets]
parallel = true
TOML
export XTASK_CONFIG="$work/xtask.toml"
app="$work/demo"

echo "== warming caches (first ci builds the PLT)"
"$bin" ci -q >/dev/null 2>&1
plt=$(ls "$app"/priv/plts/*.plt)
elixir_lib=$(elixir -e 'IO.write(Path.dirname(:code.lib_dir(:elixir)))')

echo "== 1. ci (parallel) vs the same steps in sequence"
hyperfine -w 1 -r 5 -N --export-markdown "$work/ci.md" \
  -n "xtask ci" "$bin ci -q" \
  -n "sequential script" "bash $root/scripts/bench-sequential.sh $app $plt $elixir_lib"
cat "$work/ci.md"

echo "== 2. runner overhead"
hyperfine -w 2 -r 10 -N --export-markdown "$work/fmt.md" \
  -n "xtask format" "$bin format -q" \
  -n "mix format --check-formatted" "bash -c 'cd $app && mix format --check-formatted'"
cat "$work/fmt.md"

echo "== 3. xtask list"
hyperfine -w 3 -r 30 -N --export-markdown "$work/list.md" "$bin list"
cat "$work/list.md"

echo "== 4. dialyzer warm (PLT hit) vs cold (PLT built)"
hyperfine -w 1 -r 5 -N --export-markdown "$work/dw.md" -n "dialyzer warm" "$bin dialyzer -q"
hyperfine -r 1 -N --prepare "rm -rf $app/priv/plts" --export-markdown "$work/dc.md" -n "dialyzer cold" "$bin dialyzer -q"
cat "$work/dw.md" "$work/dc.md"

if [ "${1:-}" = "--cold-build" ]; then
  echo "== 5. cold cargo build -p xtask (dependencies already fetched)"
  cargo fetch -q
  target="$work/cold-target"
  start=$(date +%s%N)
  CARGO_TARGET_DIR="$target" cargo build -q -p xtask --offline
  ms=$((($(date +%s%N) - start) / 1000000))
  units=$(find "$target/debug/.fingerprint" -maxdepth 1 -mindepth 1 | wc -l)
  echo "cold debug build: $((ms / 1000)).$((ms % 1000 / 100)) s, $units compiled units"
fi
