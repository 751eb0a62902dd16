#!/usr/bin/env bash
# Measures `cargo xtask migrate check --all` on 100 generated migrations
# (issue 16's target: under 15 s, in one BEAM boot; see docs/benchmarks.md):
# a copy of demo/ with 100 migrations after its own 3 (a table, a column, an
# index in turn, as tests/migrate_check.rs generates them), warm (deps and
# _build from a first run), ROUNDS runs. For each run: the whole command's
# wall (its own Postgres and Redis included), the step's own account of the
# session (`… s in all: … s to boot, … s to lint, N snapshots in … s`), and the BEAM
# boots, counted by `mix` and `elixir` wrappers on PATH as scripts/bench.sh
# counts them.
#
# Usage: scripts/bench-migrations.sh [--rounds N] [--bin PATH] [--trixie]
#   --rounds N   measured runs (default 3)
#   --bin PATH   the xtask binary (default: target/debug/xtask, built here,
#                as `cargo xtask` runs it)
#   --trixie     build on the host, then measure inside the trixie toolchain
#                image (Elixir 1.18 / OTP 27) through scripts/in-trixie.sh
# Images: the local stand-ins (scripts/local-images.sh) unless
# XTASK_POSTGRES_IMAGE / XTASK_REDIS_IMAGE say otherwise.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

rounds=3 bin="" trixie=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --bin) bin=$(realpath "$2"); shift ;;
    --trixie) trixie=1 ;;
    *) echo "bench-migrations: unknown option $1 (see the usage at the top of the script)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$bin" ]; then
  cargo build -q -p xtask
  bin="$root/target/debug/xtask"
fi
if [ -n "$trixie" ]; then
  exec "$root/scripts/in-trixie.sh" "$root/scripts/bench-migrations.sh" --rounds "$rounds" --bin "$bin"
fi
export XTASK_POSTGRES_IMAGE="${XTASK_POSTGRES_IMAGE:-phx-xtask-local/postgres:15}"
export XTASK_REDIS_IMAGE="${XTASK_REDIS_IMAGE:-phx-xtask-local/redis:7}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git ls-files -co --exclude-standard demo | while read -r f; do
  mkdir -p "$work/$(dirname "$f")" && cp "$f" "$work/$f"
done
# The repo's [migrate] (the demo's one-boot migrator) under a config of its own.
{ echo 'app_dir = "demo"'; sed -n '/^\[migrate\]/,/^\[/p' xtask.toml | sed '$!b; /^\[/d'; } >"$work/xtask.toml"
export XTASK_CONFIG="$work/xtask.toml"

# Migration i: a table, a column on it, an index on it, in turn.
migrations="$work/demo/priv/repo/migrations"
for i in $(seq 0 99); do
  t=$((i / 3 * 3)) v=$((20260101000000 + i * 100))
  case $((i % 3)) in
    0) name="create_t$i"
       up="CREATE TABLE t$i (id bigserial PRIMARY KEY, name varchar(255) NOT NULL)" down="DROP TABLE t$i" ;;
    1) name="add_t${t}_note"
       up="ALTER TABLE t$t ADD COLUMN note text DEFAULT 'n' NOT NULL" down="ALTER TABLE t$t DROP COLUMN note" ;;
    *) name="add_t${t}_name_index"
       up="CREATE INDEX t${t}_name_index ON t$t (name)" down="DROP INDEX t${t}_name_index" ;;
  esac
  printf '# Migration %s of a generated history.\ndefmodule Demo.Repo.Migrations.Generated%s do\n  def up, do: ["%s"]\n  def down, do: ["%s"]\nend\n' \
    "$i" "$i" "$up" "$down" >"$migrations/${v}_$name.exs"
done

# Wrappers that log each start of mix and elixir, then run the real one with
# the real PATH (the `elixir` that `mix` runs is not counted twice), in a
# bin/ beside a link to Elixir's lib so xtask still reads versions from files.
mkdir -p "$work/wrap/bin"
ln -s "$(elixir -e 'IO.write(Path.dirname(:code.lib_dir(:elixir)))')" "$work/wrap/lib"
for p in mix elixir; do
  printf '#!/bin/sh\nPATH=$BENCH_REAL_PATH\necho "$(basename "$0") $*" >>"$BENCH_BOOT_LOG"\nexec "$(basename "$0")" "$@"\n' >"$work/wrap/bin/$p"
  chmod +x "$work/wrap/bin/$p"
done
export BENCH_REAL_PATH=$PATH

echo "== $(elixir --short-version 2>/dev/null || elixir --version | tail -1), $(ls "$migrations" | wc -l) migrations, xtask $bin"
echo "== load before: $(cat /proc/loadavg)"
"$bin" deps -q >/dev/null 2>&1 || { echo "bench-migrations: deps failed: $bin deps" >&2; exit 1; }
"$bin" migrate check --all -q >"$work/warm.log" 2>&1 ||
  { echo "bench-migrations: the warm-up check failed:" >&2; tail -30 "$work/warm.log" >&2; exit 1; }

walls=()
for r in $(seq "$rounds"); do
  : >"$work/boots"
  t0=$(date +%s%N)
  BENCH_BOOT_LOG="$work/boots" PATH="$work/wrap/bin:$PATH" "$bin" migrate check --all -v >"$work/run.log" 2>&1 ||
    { echo "bench-migrations: run $r failed:" >&2; tail -30 "$work/run.log" >&2; exit 1; }
  wall=$(( ($(date +%s%N) - t0) / 1000000 ))
  walls+=("$wall")
  session=$(grep -o '[0-9.]* s in all: .*' "$work/run.log" | head -1)
  services=$(grep -o '([0-9]* ms after start-up began)' "$work/run.log" | head -1)
  echo "run $r: ${wall} ms; $(grep -c . "$work/boots") BEAM boot(s): $(tr '\n' ';' <"$work/boots")"
  echo "  services answer $services; $(grep -o 'linted [0-9]* files[^;]*' "$work/run.log" | head -1); session: $session"
done
median=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
echo "== median wall over $rounds runs: $median ms; load after: $(cat /proc/loadavg)"
