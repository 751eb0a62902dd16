#!/usr/bin/env bash
# Measures the test services (issue figures; see docs/benchmarks.md):
#   1. time from start until Postgres answers `SELECT 1` and Redis `PING`, as
#      `cargo xtask services up` reports it ("ready in N ms"): docker (images
#      present) and native, RUNS times each; then, for comparison, the usual
#      CI recipe: the same containers with `--health-interval 10s` health
#      checks, timed until docker reports both healthy
#   2. the demo's suite (`cargo xtask test`) with 1 partition against 2
#   3. `cargo xtask ci` with the services started while compiling
#      ([test] overlap = true, the default) against after it (false), each
#      from a fresh _build, as a CI checkout has it
#
# Usage: scripts/bench-services.sh [RUNS]     (default 5)
# Environment: XTASK_POSTGRES_IMAGE / XTASK_REDIS_IMAGE as for xtask; when
# unset and the official images are not present, the local stand-ins from
# scripts/local-images.sh are used. Needs docker, hyperfine, postgres and
# redis-server.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-5}"

die() { printf 'bench-services: error: %s\n' "$*" >&2; exit 1; }
command -v hyperfine >/dev/null || die "install hyperfine (apt-get install hyperfine)"
docker info >/dev/null 2>&1 || die "docker does not answer: scripts/start-dockerd.sh starts it"
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
pick_image() { # override, official, stand-in
  if [ -n "$1" ]; then echo "$1"; elif image_exists "$2"; then echo "$2"; else echo "$3"; fi
}
pg_version=$(sed -n 's/^postgres *= *"\(.*\)"/\1/p' xtask.toml)
redis_version=$(sed -n 's/^redis *= *"\(.*\)"/\1/p' xtask.toml)
export XTASK_POSTGRES_IMAGE
XTASK_POSTGRES_IMAGE=$(pick_image "${XTASK_POSTGRES_IMAGE:-}" "postgres:${pg_version}-alpine" phx-xtask-local/postgres:15)
export XTASK_REDIS_IMAGE
XTASK_REDIS_IMAGE=$(pick_image "${XTASK_REDIS_IMAGE:-}" "redis:${redis_version}-alpine" phx-xtask-local/redis:7)
for image in "$XTASK_POSTGRES_IMAGE" "$XTASK_REDIS_IMAGE"; do
  image_exists "$image" || die "image $image is not present: scripts/local-images.sh builds stand-ins"
done

cargo build --release -q -p xtask
bin="$root/target/release/xtask"
work=$(mktemp -d)
health=()
cleanup() {
  [ "${#health[@]}" -eq 0 ] || docker rm -f "${health[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# A copy of the demo as a fresh clone has it, with its own config.
git ls-files -co --exclude-standard demo | while read -r f; do
  mkdir -p "$work/$(dirname "$f")" && cp "$f" "$work/$f"
done
write_config() {
  printf 'app_dir = "demo"\n[dialyzer]\nplt_dir = "%s"\n%s\n' "$root/target/e2e-plts" "$1" >"$work/xtask.toml"
}
write_config ""
export XTASK_CONFIG="$work/xtask.toml"
app="$work/demo"

# min / median / max of the numbers on stdin.
stats() { sort -n | awk '{a[NR]=$1} END {printf "min %d, median %d, max %d ms (%d runs)\n", a[1], a[int((NR+1)/2)], a[NR], NR}'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

echo "== 1. start until both services answer (images: $XTASK_POSTGRES_IMAGE, $XTASK_REDIS_IMAGE)"
for backend in docker native; do
  ready=() wall=()
  for _ in $(seq "$runs"); do
    start=$(now_ms)
    out=$("$bin" services up --services "$backend" --exit-when-ready 2>&1 >/dev/null)
    wall+=($(($(now_ms) - start)))
    ready+=("$(sed -n 's/^ready in \([0-9]*\) ms$/\1/p' <<<"$out")")
  done
  printf '%-7s ready:           %s\n' "$backend" "$(printf '%s\n' "${ready[@]}" | stats)"
  printf '%-7s whole command:   %s\n' "$backend" "$(printf '%s\n' "${wall[@]}" | stats)"
done

# The recipe most CI configs copy: service containers with health checks
# every 10 s; the job starts when docker reports them healthy.
recipe=()
for _ in $(seq "$runs"); do
  start=$(now_ms)
  health=(
    "$(docker run -d -P -e POSTGRES_PASSWORD=postgres --health-cmd "pg_isready -U postgres" \
      --health-interval 10s --health-timeout 5s --health-retries 5 "$XTASK_POSTGRES_IMAGE")"
    "$(docker run -d -P --health-cmd "redis-cli ping" \
      --health-interval 10s --health-timeout 5s --health-retries 5 "$XTASK_REDIS_IMAGE")"
  )
  until [ "$(docker inspect -f '{{.State.Health.Status}}' "${health[@]}" | sort -u)" = healthy ]; do
    sleep 0.1
  done
  recipe+=($(($(now_ms) - start)))
  docker rm -f "${health[@]}" >/dev/null
  health=()
done
printf 'recipe  healthy (10 s):  %s\n' "$(printf '%s\n' "${recipe[@]}" | stats)"

echo "== 2. the demo's suite: 1 partition against 2 (docker services)"
"$bin" test -q >/dev/null 2>&1 # warm the test build
hyperfine -w 1 -r "$runs" -N --export-markdown "$work/suite.md" \
  -n "test (1 partition)" "$bin test -q" \
  -n "test --partitions 2" "$bin test -q --partitions 2"
cat "$work/suite.md"

echo "== 3. ci from a fresh _build: services started while compiling, or after"
"$bin" ci -q >/dev/null 2>&1 # warm npm's cache and the PLT
for overlap in true false; do
  write_config "[test]
overlap = $overlap"
  hyperfine -r "$runs" -N --prepare "rm -rf $app/_build $app/cover" --export-markdown "$work/ci-$overlap.md" \
    -n "ci, overlap = $overlap" "$bin ci -q"
  cat "$work/ci-$overlap.md"
done
docker ps -aq --filter label=dev.phx-xtask.project | grep -q . && die "containers were left behind"
echo "done: no containers left"
