#!/usr/bin/env bash
# Image figures for docs/benchmarks.md: `xtask image` on a clone of this
# repo, three times: as it finds the layer cache, after a lib-only commit,
# and with nothing changed. (A cold figure needs the legacy builder's cache
# gone, which means removing every image built on the base images: do that
# by hand, never from a script.) Needs the local base images
# (scripts/local-images.sh) and a running docker daemon.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build -q --release -p xtask
bin=$PWD/target/release/xtask
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/repo"
[ -f xtask.local.toml ] && cp xtask.local.toml "$work/repo/"
cd "$work/repo"
git config user.email bench@localhost; git config user.name bench
export XTASK_ROOT=$work/repo

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }

echo "first build:     $(secs "$bin" image --output plain) s"
echo "# bench $(date +%s%N)" >>demo/lib/demo.ex
git commit -qam "bench: lib only"
echo "lib-only change: $(secs "$bin" image --output plain) s"
echo "no change:       $(secs "$bin" image --output plain) s"
echo "image size:      $(docker image inspect -f '{{.Size}}' demo:main | awk '{printf "%.0f MB", $1/1e6}')"
