#!/usr/bin/env bash
# Builds local stand-ins for the official postgres:16-alpine and redis:7-alpine
# images, and for the hexpm/elixir builder and debian slim runner that a
# release Dockerfile from `mix phx.gen.release --docker` starts from, for
# machines that cannot reach any container registry. They keep the same
# contract (env vars, ports, log lines, args after the image name; mix and a
# full OTP in the builder) and are built only from Debian packages:
#
#   phx-xtask-local/debian:bookworm   debootstrapped minbase rootfs, `docker import`ed
#   phx-xtask-local/postgres:15       docker/local/postgres (postgresql-15)
#   phx-xtask-local/redis:7           docker/local/redis    (redis-server 7.0)
#   phx-xtask-local/elixir-builder:1.14-erlang-25-debian-bookworm
#                                     docker/local/elixir-builder (elixir 1.14, OTP 25, node)
#   phx-xtask-local/runner:bookworm   docker/local/runner   (the release's runtime libs)
#   phx-xtask-local/proxy:bookworm    docker/local/proxy    (nginx and curl: the deploy proxy)
#
# The last two are what demo/Dockerfile takes as BUILDER_IMAGE and RUNNER_IMAGE:
#   docker build \
#     --build-arg BUILDER_IMAGE=phx-xtask-local/elixir-builder:1.14-erlang-25-debian-bookworm \
#     --build-arg RUNNER_IMAGE=phx-xtask-local/runner:bookworm demo
#
# Usage: scripts/local-images.sh [--force]
#   --force   rebuild all the images even if they already exist.
# Environment:
#   DEBIAN_MIRROR            default http://deb.debian.org/debian
#   DEBIAN_SECURITY_MIRROR   default http://deb.debian.org/debian-security
#
# Postgres and redis are installed by apt-get inside `docker build`, not by
# debootstrap --include: measured back to back on a 2-vCPU machine, the bare minbase
# debootstrap takes about 20 s and the two apt-get installs about 15 s and 3 s,
# while one debootstrap with both packages takes about 60 s (debootstrap fetches
# packages one at a time). It also keeps redis out of the postgres image and
# vice versa.
set -euo pipefail

readonly BASE_IMAGE=phx-xtask-local/debian:bookworm
readonly POSTGRES_IMAGE=phx-xtask-local/postgres:15
readonly REDIS_IMAGE=phx-xtask-local/redis:7
# Tagged like hexpm/elixir's images, with the versions Debian bookworm ships;
# docker/local/elixir-builder fails its build if they ever differ.
readonly BUILDER_IMAGE=phx-xtask-local/elixir-builder:1.14-erlang-25-debian-bookworm
readonly RUNNER_IMAGE=phx-xtask-local/runner:bookworm
# Stands in for nginx:stable as `[deploy.<env>] proxy_image`.
readonly PROXY_IMAGE=phx-xtask-local/proxy:bookworm
readonly SUITE=bookworm
readonly MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root

die() {
	printf 'local-images: error: %s\n' "$1" >&2
	shift
	local line
	for line in "$@"; do printf '  %s\n' "$line" >&2; done
	exit 1
}

# Elapsed seconds prefix, so a slow mirror or step is visible at a glance.
log() { printf 'local-images: [%3ds] %s\n' "$SECONDS" "$*" >&2; }

force=false
for arg in "$@"; do
	case "$arg" in
		--force) force=true ;;
		-h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
		*) die "unknown argument: $arg" "usage: scripts/local-images.sh [--force]" ;;
	esac
done

# shellcheck source=scripts/debian-rootfs.sh
. "$repo_root/scripts/debian-rootfs.sh"

build_service() {
	local image="$1" dir="$2" stale="$3"
	if ! $stale && image_exists "$image"; then
		log "$image exists, skipping (use --force to rebuild)"
		return
	fi
	remember_replaced "$image"
	log "docker build $dir -> $image"
	# The full build output is shown only on failure; on success it is noise
	# (and the legacy builder adds a deprecation notice on every build).
	local out="$workdir/build.log"
	if ! docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$image" "$dir" >"$out" 2>&1; then
		tail -n 40 "$out" >&2
		die "docker build of $image failed (output above)"
	fi
}

# Records the stand-ins in xtask.local.toml beside xtask.toml: git-ignored,
# merged over xtask.toml by cargo xtask, so `cargo xtask ci` uses them with
# nothing to export. A file someone else wrote is left alone.
readonly LOCAL_CONFIG="$repo_root/xtask.local.toml"
readonly LOCAL_MARKER="# Written by scripts/local-images.sh"
record_local_config() {
	if [ -e "$LOCAL_CONFIG" ] && ! head -n 1 "$LOCAL_CONFIG" | grep -qF "$LOCAL_MARKER"; then
		log "$LOCAL_CONFIG exists and was not written by this script: left as it is"
		log "add postgres_image = \"$POSTGRES_IMAGE\" and redis_image = \"$REDIS_IMAGE\" under [services],"
		log "and BUILDER_IMAGE = \"$BUILDER_IMAGE\", RUNNER_IMAGE = \"$RUNNER_IMAGE\" under [image.build_args], yourself"
		return
	fi
	cat >"$LOCAL_CONFIG.tmp" <<-EOF
		$LOCAL_MARKER: no container registry is reachable here, so the
		# test services use stand-ins built from Debian packages. Machine-local and
		# git-ignored; delete it where the official images can be pulled.
		[services]
		postgres_image = "$POSTGRES_IMAGE"
		redis_image = "$REDIS_IMAGE"

		# The release image builds on local stand-ins for hexpm/elixir and
		# debian-slim. Inside a build, npm's registry is out of reach here
		# (TLS is intercepted), so the demo's assets are built outside it.
		[image.build_args]
		BUILDER_IMAGE = "$BUILDER_IMAGE"
		RUNNER_IMAGE = "$RUNNER_IMAGE"
		BUILD_ASSETS = "false"
	EOF
	mv "$LOCAL_CONFIG.tmp" "$LOCAL_CONFIG"
	log "recorded the stand-ins in $LOCAL_CONFIG"
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
	# A new base means the service images are stale, so rebuild them too.
	local stale=false
	if $force || $rebuilt_base; then stale=true; fi
	build_service "$POSTGRES_IMAGE" "$repo_root/docker/local/postgres" "$stale"
	build_service "$REDIS_IMAGE" "$repo_root/docker/local/redis" "$stale"
	build_service "$BUILDER_IMAGE" "$repo_root/docker/local/elixir-builder" "$stale"
	build_service "$RUNNER_IMAGE" "$repo_root/docker/local/runner" "$stale"
	build_service "$PROXY_IMAGE" "$repo_root/docker/local/proxy" "$stale"
	remove_replaced
	record_local_config
	docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep '^phx-xtask-local/' | sort
}

main "$@"
