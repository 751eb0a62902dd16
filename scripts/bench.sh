#!/usr/bin/env bash
# Measures phx-xtask on the demo, or with --app phx18 on the Phoenix
# 1.8-shaped fixture (issue figures; see docs/benchmarks.md):
#   1. `cargo xtask ci` (deps, format, compile, credo, sobelow, dialyzer, assets,
#      test) against the same steps one after another (scripts/bench-sequential.sh),
#      warm, in interleaved rounds: medians of the wall time and of the CPU used
#      (user + system of the whole process tree), the BEAM boots per run
#      (counted by wrappers for mix, elixir and dialyzer put on PATH here only),
#      the "Waiting for lock on the build directory" lines Mix 1.18 prints
#      (`ci -v` logs every step's output),
#      and when dialyzer starts against when the build env's compile ends
#   2. the same cold: `_build` removed before each run (the PLT is kept)
#   3. runner overhead: `xtask format` against `mix format --check-formatted`
#   4. `xtask list` on a built binary
#   5. dialyzer with a warm PLT against a cold one
#   6. (--cold-build) the cold `cargo build -p xtask` from an empty target dir
# Both contenders of 1 and 2 use the same Postgres and Redis, started once
# here (external services); `ci` with its own docker services is measured too.
# Options: --bin PATH (an xtask binary to measure instead of a fresh release
# build), --compare PATH (another xtask binary, e.g. a build of an older
# commit, measured in the same rounds of 1 and 2), --rounds N (default 5),
# --cold-rounds N (default 2), --only-ci (sections 1 and 2 only), --cold-build,
# --app demo|phx18 (default demo), --plt-dir DIR (keep the PLTs there between
# runs: the warm-up then skips building them; section 5 removes and rebuilds it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v hyperfine >/dev/null || { echo "bench: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: install GNU time (apt-get install time)" >&2; exit 1; }

bin="" old="" rounds=5 cold_rounds=2 only_ci="" cold_build="" name=demo plt_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$(realpath "$2"); shift ;;
    --compare) old=$(realpath "$2"); shift ;;
    --rounds) rounds=$2; shift ;;
    --cold-rounds) cold_rounds=$2; shift ;;
    --only-ci) only_ci=1 ;;
    --cold-build) cold_build=1 ;;
    --app) name=$2; shift ;;
    --plt-dir) mkdir -p "$2"; plt_dir=$(realpath "$2"); shift ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$bin" ]; then
  cargo build --release -q -p xtask
  bin="$root/target/release/xtask"
fi
echo "== xtask: $bin"
echo "== load before: $(uptime)"

work=$(mktemp -d)
[ -n "$plt_dir" ] || plt_dir="$work/plts"
containers=()
cleanup() {
  if [ ${#containers[@]} -gt 0 ]; then docker rm -f "${containers[@]}" >/dev/null 2>&1; fi
  rm -rf "$work"
}
trap cleanup EXIT
# Copies of the app as a fresh clone has it: one per contender, so each
# keeps its own warm state (_build, node_modules and the record of its last
# `npm ci`) and no contender's run undoes another's. xtask's copies share one
# PLT dir. The phx18 fixture's path deps (../stand_ins) come along beside it.
case "$name" in
  demo) sources=(demo) otp_app=demo ;;
  phx18) sources=(tests/fixtures/phx18 tests/fixtures/stand_ins) otp_app=shop ;;
  *) echo "bench: --app takes demo or phx18, not $name" >&2; exit 2 ;;
esac
copy_demo() {
  local src f rel
  for src in "${sources[@]}"; do
    git ls-files -co --exclude-standard "$src" | while read -r f; do
      rel=${f#tests/fixtures/}
      mkdir -p "$1/$(dirname "$rel")" && cp "$f" "$1/$rel"
    done
  done
}
copy_demo "$work"
copy_demo "$work/seq"
cat >"$work/xtask.toml" <<TOML
app_dir = "$name"
[ci]
steps = ["deps", "format", "compile", "credo", "sobelow", "dialyzer", "assets", "test"]
[assets]
parallel = true
[dialyzer]
plt_dir = "$plt_dir"
TOML
export XTASK_CONFIG="$work/xtask.toml"
app="$work/$name"
seq_app="$work/seq/$name"
if [ -n "$old" ]; then
  copy_demo "$work/old"
  cp "$work/xtask.toml" "$work/old/xtask.toml"
fi

# The services both contenders use, started once: the images of xtask.toml's
# override (scripts/local-images.sh builds stand-ins where no registry is
# reachable), with the official images' contract.
pg_image=${XTASK_POSTGRES_IMAGE:-phx-xtask-local/postgres:15}
redis_image=${XTASK_REDIS_IMAGE:-phx-xtask-local/redis:7}
export XTASK_POSTGRES_IMAGE=$pg_image XTASK_REDIS_IMAGE=$redis_image
containers+=("$(docker run -d --rm -e POSTGRES_PASSWORD=postgres -p 127.0.0.1::5432 "$pg_image")")
containers+=("$(docker run -d --rm -p 127.0.0.1::6379 "$redis_image")")
pg_port=$(docker port "${containers[0]}" 5432/tcp | head -1 | sed 's/.*://')
redis_port=$(docker port "${containers[1]}" 6379/tcp | head -1 | sed 's/.*://')
export PGPASSWORD=postgres
until psql -h 127.0.0.1 -p "$pg_port" -U postgres -c 'SELECT 1' >/dev/null 2>&1; do sleep 0.2; done
psql -h 127.0.0.1 -p "$pg_port" -U postgres -c 'CREATE DATABASE demo_test' >/dev/null
unset PGPASSWORD
db_url="postgres://postgres:postgres@127.0.0.1:$pg_port/demo_test"
redis_url="redis://127.0.0.1:$redis_port/0"

# Wrappers that log each start and end of mix, elixir and dialyzer, with
# MIX_ENV and the arguments, then run the real program (with the real PATH,
# so the `elixir` that `mix` itself runs is not counted twice). They sit in a
# bin/ beside a link to Elixir's lib, as in an Elixir install, so xtask still
# reads the versions from files instead of asking `elixir -e`.
elixir_lib=$(elixir -e 'IO.write(Path.dirname(:code.lib_dir(:elixir)))')
wrap="$work/wrap/bin"
mkdir -p "$wrap"
ln -s "$elixir_lib" "$work/wrap/lib"
for p in mix elixir dialyzer; do
  cat >"$wrap/$p" <<'SH'
#!/usr/bin/env bash
name=$(basename "$0")
PATH=$BENCH_REAL_PATH
echo "start $(date +%s%N) $name ${MIX_ENV:--} $*" >>"$BENCH_BOOT_LOG"
"$name" "$@"
rc=$?
echo "end $(date +%s%N) $name ${MIX_ENV:--} $*" >>"$BENCH_BOOT_LOG"
exit $rc
SH
  chmod +x "$wrap/$p"
done
export BENCH_REAL_PATH=$PATH

echo "== warming caches (the first ci builds the PLT)"
"$bin" ci -q >/dev/null 2>&1 || { echo "bench: the warm-up ci failed; run it by hand: $bin ci" >&2; exit 1; }
plt=$(ls "$plt_dir"/*.plt)
if [ -n "$old" ]; then
  XTASK_CONFIG="$work/old/xtask.toml" "$old" ci -q >/dev/null 2>&1 \
    || { echo "bench: the warm-up ci of $old failed" >&2; exit 1; }
fi

# One measured run: NAME, ROUND, then the command. Records wall and CPU
# seconds and the boot log.
measure() {
  local name=$1 round=$2; shift 2
  local log="$work/boots-$name-$round" out="$work/time-$name-$round"
  : >"$log"
  local t0
  t0=$(date +%s%N)
  echo "t0 $t0" >"$log"
  BENCH_BOOT_LOG="$log" PATH="$wrap:$PATH" /usr/bin/time -f "%e %U %S" -o "$out" "$@" >/dev/null 2>"$work/err-$name-$round" \
    || { echo "bench: $name failed:" >&2; tail -30 "$work/err-$name-$round" >&2; exit 1; }
}

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }

# The figures of one contender over its rounds.
report() {
  local name=$1 n=$2 i
  local wall cpu boots mix_n elixir_n dialyzer_n
  wall=$(for i in $(seq "$n"); do awk '{print $1}' "$work/time-$name-$i"; done | median)
  cpu=$(for i in $(seq "$n"); do awk '{print $2 + $3}' "$work/time-$name-$i"; done | median)
  local last="$work/boots-$name-$n"
  mix_n=$(grep -c '^start [0-9]* mix ' "$last" || true)
  elixir_n=$(grep -c '^start [0-9]* elixir ' "$last" || true)
  dialyzer_n=$(grep -c '^start [0-9]* dialyzer ' "$last" || true)
  boots=$((mix_n + elixir_n + dialyzer_n))
  # Mix 1.18 prints this when another of our mix processes holds the
  # build lock; `ci -v` logs every step's output, so each wait shows.
  local waits
  waits=$(cat "$work"/err-"$name"-* | grep -c 'Waiting for lock on the build directory' || true)
  # Seconds from the start of the run: the end of the build env's compile
  # (the mix command with `compile --warnings-as-errors` outside MIX_ENV=test)
  # and the start of the dialyzer analysis (its last dialyzer command).
  local compiled dialyzed
  compiled=$(for i in $(seq "$n"); do
    awk '/^t0/ {t0=$2} $1=="end" && $3=="mix" && $4!="test" && /compile --warnings-as-errors/ {e=$2} END {printf "%.2f\n", (e-t0)/1e9}' "$work/boots-$name-$i"
  done | median)
  dialyzed=$(for i in $(seq "$n"); do
    awk '/^t0/ {t0=$2} $1=="start" && $3=="dialyzer" {s=$2} END {printf "%.2f\n", (s-t0)/1e9}' "$work/boots-$name-$i"
  done | median)
  printf '| %s | %s s | %s s | %s (mix %s, elixir %s, dialyzer %s) | %s | %s s | %s s |\n' \
    "$name" "$wall" "$cpu" "$boots" "$mix_n" "$elixir_n" "$dialyzer_n" "$waits" "$compiled" "$dialyzed"
  echo "$wall" >"$work/wall-$name"
}

table_head() {
  echo "| contender | wall (median) | CPU user+sys (median) | BEAM boots per run | lock waits (all rounds) | build env compiled at | dialyzer starts at |"
  echo "|---|---|---|---|---|---|---|"
}

# CI=true as on a CI runner: `ci` keeps going, so format runs in compile's
# `mix do` (on a laptop it stops at the first failure, and format, which a
# failing compile must not hide, gets a boot of its own).
ci_external=(env CI=true "DATABASE_URL=$db_url" "REDIS_URL=$redis_url" XTASK_SERVICES=external "$bin" ci -v)
ci_docker=(env CI=true XTASK_SERVICES=docker "$bin" ci -v)
old_ci_external=(env CI=true "DATABASE_URL=$db_url" "REDIS_URL=$redis_url" XTASK_SERVICES=external "XTASK_CONFIG=$work/old/xtask.toml" "$old" ci -v)
sequential=(env "DATABASE_URL=$db_url" "REDIS_URL=$redis_url" bash "$root/scripts/bench-sequential.sh" "$seq_app" "$plt" "$elixir_lib" "$otp_app")
# The script's warm-up, on its own copy.
"${sequential[@]}" >/dev/null 2>&1 || { echo "bench: the warm-up of the sequential script failed" >&2; exit 1; }

echo "== 1. warm: ci against the same steps in sequence, $rounds interleaved rounds"
for r in $(seq "$rounds"); do
  measure "xtask ci (external services)" "$r" "${ci_external[@]}"
  measure "sequential script" "$r" "${sequential[@]}"
  measure "xtask ci (docker services)" "$r" "${ci_docker[@]}"
  if [ -n "$old" ]; then measure "compared xtask ci (external services)" "$r" "${old_ci_external[@]}"; fi
done
table_head
for c in "xtask ci (external services)" "xtask ci (docker services)" "sequential script"; do
  report "$c" "$rounds"
done
if [ -n "$old" ]; then report "compared xtask ci (external services)" "$rounds"; fi
awk -v a="$(cat "$work/wall-xtask ci (external services)")" -v b="$(cat "$work/wall-sequential script")" \
  'BEGIN {printf "ratio ci (external services) / sequential, warm: %.2f\n", a / b}'
awk -v a="$(cat "$work/wall-xtask ci (docker services)")" -v b="$(cat "$work/wall-sequential script")" \
  'BEGIN {printf "ratio ci (docker services) / sequential, warm: %.2f\n", a / b}'

echo "== 2. cold (_build removed before each run, PLT kept), $cold_rounds interleaved rounds"
for r in $(seq "$cold_rounds"); do
  rm -rf "$app/_build"
  measure "cold xtask ci (external services)" "$r" "${ci_external[@]}"
  rm -rf "$seq_app/_build"
  measure "cold sequential script" "$r" "${sequential[@]}"
  if [ -n "$old" ]; then
    rm -rf "$work/old/$name/_build"
    measure "cold compared xtask ci (external services)" "$r" "${old_ci_external[@]}"
  fi
done
table_head
for c in "cold xtask ci (external services)" "cold sequential script"; do
  report "$c" "$cold_rounds"
done
if [ -n "$old" ]; then report "cold compared xtask ci (external services)" "$cold_rounds"; fi
awk -v a="$(cat "$work/wall-cold xtask ci (external services)")" -v b="$(cat "$work/wall-cold sequential script")" \
  'BEGIN {printf "ratio ci / sequential, cold: %.2f\n", a / b}'
echo "== load after: $(uptime)"
if [ -n "$only_ci" ]; then exit 0; fi

echo "== 3. runner overhead"
hyperfine -w 2 -r 10 -N --export-markdown "$work/fmt.md" \
  -n "xtask format" "$bin format -q" \
  -n "mix format --check-formatted" "bash -c 'cd $app && mix format --check-formatted'"
cat "$work/fmt.md"

echo "== 4. xtask list"
hyperfine -w 3 -r 30 -N --export-markdown "$work/list.md" "$bin list"
cat "$work/list.md"

echo "== 5. dialyzer warm (PLT hit) vs cold (PLT built)"
hyperfine -w 1 -r 5 -N --export-markdown "$work/dw.md" -n "dialyzer warm" "$bin dialyzer -q"
hyperfine -r 1 -N --prepare "rm -rf $plt_dir" --export-markdown "$work/dc.md" -n "dialyzer cold" "$bin dialyzer -q"
cat "$work/dw.md" "$work/dc.md"

if [ -n "$cold_build" ]; then
  echo "== 6. cold cargo build -p xtask (dependencies already fetched)"
  cargo fetch -q
  target="$work/cold-target"
  start=$(date +%s%N)
  CARGO_TARGET_DIR="$target" cargo build -q -p xtask --offline
  ms=$((($(date +%s%N) - start) / 1000000))
  units=$(find "$target/debug/.fingerprint" -maxdepth 1 -mindepth 1 | wc -l)
  echo "cold debug build: $((ms / 1000)).$((ms % 1000 / 100)) s, $units compiled units"
fi
echo "== load after: $(uptime)"
