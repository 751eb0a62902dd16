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

# Check every precondition before the first side effect, so a missing tool
# never leaves a half-built set of images behind.
preflight() {
	command -v docker >/dev/null || die "docker is not installed" "fix: apt-get install docker.io"
	docker info >/dev/null 2>&1 || die "docker does not answer (\`docker info\` failed)" \
		"fix: scripts/start-dockerd.sh (starts dockerd in the background)"
	if ! image_exists "$BASE_IMAGE" || $force; then
		# debootstrap needs root to create device nodes and chown files.
		[ "$(id -u)" = 0 ] || die "building $BASE_IMAGE needs root (debootstrap)" "fix: sudo $0 $*"
		command -v debootstrap >/dev/null || die "debootstrap is not installed" "fix: apt-get install debootstrap"
	fi
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# IDs of images this run replaced; a rebuild would otherwise leave the old ones
# behind as dangling images of a few hundred MB each.
replaced=()
remember_replaced() {
	local id
	if id="$(docker image inspect -f '{{.Id}}' "$1" 2>/dev/null)"; then
		replaced=("$id" "${replaced[@]}")
	fi
}

# Removes the replaced images, children before their base. An ID still tagged
# was rebuilt identically from the cache and is kept; one still used by a
# container cannot be removed and is left alone.
remove_replaced() {
	local id
	for id in "${replaced[@]}"; do
		if [ "$(docker image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null)" = 0 ]; then
			docker rmi "$id" >/dev/null 2>&1 || true
		fi
	done
}

# Scratch space for the rootfs and for logs that are shown only on failure.
workdir="$(mktemp -d /tmp/phx-xtask-images.XXXXXX)"
readonly workdir

# debootstrap mounts /proc and /sys inside the target while it runs; if it was
# interrupted they may still be mounted, and rm must never descend into the
# host's /proc or /sys. So: unmount deepest first, then stay on one device.
remove_tree() {
	local mnt
	findmnt -rn -o TARGET | { grep -F "$1/" || true; } | sort -r | while read -r mnt; do
		umount -l "$mnt" || true
	done
	rm -rf --one-file-system "$1"
}
trap 'remove_tree "$workdir"' EXIT

# Writes the container-specific configuration into the debootstrapped rootfs.
configure_rootfs() {
	local root="$1"

	# Security and point-release updates, so apt-get in the Dockerfiles installs
	# the patched postgresql-15 rather than the version from the last point release.
	cat >"$root/etc/apt/sources.list" <<-EOF
		deb $MIRROR $SUITE main
		deb $MIRROR $SUITE-updates main
		deb $SECURITY_MIRROR $SUITE-security main
	EOF

	# Package scripts must not try to start daemons during `docker build`;
	# 101 means "action forbidden" to invoke-rc.d.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"

	# Same space savings as Debian's official slim images: no docs, man pages
	# or translations for packages installed later.
	cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<-'EOF'
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/man/*
		path-exclude /usr/share/groff/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/locale/*
		path-exclude /usr/share/lintian/*
	EOF
	printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
		>"$root/etc/apt/apt.conf.d/docker-no-recommends"

	# apt's output is kept for failures only: in a chroot without /dev/pts it
	# prints harmless errors ("Can not write log") that would look alarming.
	if ! { chroot "$root" apt-get -q update &&
		chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y upgrade; } >"$workdir/apt.log" 2>&1; then
		tail -n 20 "$workdir/apt.log" >&2
		die "apt-get update/upgrade in the new rootfs failed (log above)" \
			"check that $MIRROR and $SECURITY_MIRROR are reachable over http"
	fi

	# The same files for packages debootstrap already installed, plus the
	# package cache and lists (the Dockerfiles run apt-get update themselves).
	find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$root"/usr/share/{man,groff,info,locale,lintian}/* \
		"$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
		"$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/tmp/*
	# debootstrap copies these from the host; docker bind-mounts its own.
	: >"$root/etc/resolv.conf"
	printf 'localhost\n' >"$root/etc/hostname"
}

build_base() {
	local root="$workdir/root"
	remember_replaced "$BASE_IMAGE"
	log "debootstrap $SUITE (minbase) from $MIRROR into $root"
	if ! debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$workdir/debootstrap.log" 2>&1; then
		tail -n 20 "$workdir/debootstrap.log" >&2
		die "debootstrap failed (log above)" "check that $MIRROR is reachable over http"
	fi
	log "configure rootfs (apt sources, policy-rc.d, slim dpkg excludes, upgrade)"
	configure_rootfs "$root"
	log "docker import -> $BASE_IMAGE"
	# --numeric-owner: the rootfs's uids must survive even where the host's
	# /etc/passwd maps them to other names. LANG=C.UTF-8 is built into Debian's
	# libc6 and gives UTF-8 everywhere without the locales package.
	tar --numeric-owner -C "$root" -c . | docker import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV LANG=C.UTF-8' \
		--change 'CMD ["bash"]' \
		--message "debootstrap --variant=minbase $SUITE $MIRROR" \
		- "$BASE_IMAGE" >/dev/null
	# Free the rootfs's few hundred MB now rather than after the builds.
	remove_tree "$root"
}

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
