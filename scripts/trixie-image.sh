#!/usr/bin/env bash
# Builds the second toolchain CI runs the end-to-end suite on: Elixir 1.18 on
# OTP 27 from Debian trixie, beside the host's bookworm Elixir 1.14 / OTP 25.
# Built only from Debian packages, like scripts/local-images.sh:
#
#   phx-xtask-local/debian:trixie      debootstrapped minbase rootfs, `docker import`ed
#   phx-xtask-local/toolchain:trixie   docker/local/trixie (elixir 1.18.3, erlang 27.3,
#                                      rebar3, node/npm, postgresql 17, redis, docker CLI,
#                                      and the other tools the tests call)
#
# Usage: scripts/trixie-image.sh [--force]
#   --force   rebuild both images even if they already exist.
# Environment:
#   DEBIAN_MIRROR            default http://deb.debian.org/debian
#   DEBIAN_SECURITY_MIRROR   default http://deb.debian.org/debian-security
#
# Running things in it: scripts/in-trixie.sh CMD ARGS... runs CMD in a
# throwaway container of phx-xtask-local/toolchain:trixie with this repo
# mounted at the same path, the host's docker socket, the host's network and
# a HOME of its own under target/ (Mix and npm caches kept between runs, apart
# from the host's 1.14 ones). The test binaries are built on the host
# (bookworm's glibc is older than trixie's, so they run there) and run inside:
#
#   cargo test --test pipeline --no-run            # prints target/debug/deps/pipeline-HASH
#   scripts/in-trixie.sh target/debug/deps/pipeline-HASH [FILTER]
#   scripts/in-trixie.sh cargo-e2e pipeline [FILTER]   # the same, finding the binary for you
#
# Tests that must run cargo themselves (tests/init.rs builds a generated
# crate) skip there with a message: cargo is the host's and its target dir is
# shared with the host, so they run on the host toolchain only.
set -euo pipefail

readonly BASE_IMAGE=phx-xtask-local/debian:trixie
readonly TOOLCHAIN_IMAGE=phx-xtask-local/toolchain:trixie
readonly SUITE=trixie
readonly MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root

die() {
	printf 'trixie-image: error: %s\n' "$1" >&2
	shift
	local line
	for line in "$@"; do printf '  %s\n' "$line" >&2; done
	exit 1
}

# Elapsed seconds prefix, so a slow mirror or step is visible at a glance.
log() { printf 'trixie-image: [%3ds] %s\n' "$SECONDS" "$*" >&2; }

force=false
for arg in "$@"; do
	case "$arg" in
		--force) force=true ;;
		-h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
		*) die "unknown argument: $arg" "usage: scripts/trixie-image.sh [--force]" ;;
	esac
done

# shellcheck source=scripts/debian-rootfs.sh
. "$repo_root/scripts/debian-rootfs.sh"

# A digest of docker/local/trixie, stored as a label on the image, so an
# edited Dockerfile rebuilds the image without --force and an unchanged one
# is left alone.
readonly CONTEXT="$repo_root/docker/local/trixie"
context_digest() {
	(cd "$CONTEXT" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}
toolchain_current() {
	[ "$(docker image inspect -f '{{index .Config.Labels "phx-xtask.context"}}' "$TOOLCHAIN_IMAGE" 2>/dev/null)" = "$(context_digest)" ]
}

build_toolchain() {
	remember_replaced "$TOOLCHAIN_IMAGE"
	log "docker build docker/local/trixie -> $TOOLCHAIN_IMAGE (apt-get, a few minutes)"
	local out="$workdir/build.log"
	if ! docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$TOOLCHAIN_IMAGE" \
		--label "phx-xtask.context=$(context_digest)" "$CONTEXT" >"$out" 2>&1; then
		tail -n 40 "$out" >&2
		die "docker build of $TOOLCHAIN_IMAGE failed (output above)" \
			"a package name or version check in docker/local/trixie/Dockerfile no longer matches trixie"
	fi
}

main() {
	preflight "$@"
	local rebuilt_base=false
	if $force || ! image_exists "$BASE_IMAGE"; then
		build_base
		rebuilt_base=true
	else
		log "$BASE_IMAGE exists, skipping (use --force to rebuild)"
	fi
	# A new base or an edited docker/local/trixie makes the toolchain stale.
	if $force || $rebuilt_base || ! toolchain_current; then
		build_toolchain
	else
		log "$TOOLCHAIN_IMAGE is up to date with docker/local/trixie, skipping (use --force to rebuild)"
	fi
	remove_replaced
	docker run --rm "$TOOLCHAIN_IMAGE" toolchain-versions
}

main "$@"
