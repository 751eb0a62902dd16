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

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Every precondition before the first side effect, so a missing tool never
# leaves half a toolchain behind.
preflight() {
	command -v docker >/dev/null || die "docker is not installed" "fix: apt-get install docker.io"
	docker info >/dev/null 2>&1 || die "docker does not answer (\`docker info\` failed)" \
		"fix: scripts/start-dockerd.sh (starts dockerd in the background)"
	if ! image_exists "$BASE_IMAGE" || $force; then
		# debootstrap needs root to create device nodes and chown files.
		[ "$(id -u)" = 0 ] || die "building $BASE_IMAGE needs root (debootstrap)" "fix: sudo $0 $*"
		command -v debootstrap >/dev/null || die "debootstrap is not installed" "fix: apt-get install debootstrap"
		# bookworm's debootstrap 1.0.128 knows trixie; older ones do not.
		[ -e "/usr/share/debootstrap/scripts/$SUITE" ] ||
			die "this debootstrap does not know $SUITE" "fix: apt-get install -t bookworm debootstrap (1.0.128 or newer)"
	fi
}

# Scratch space for the rootfs and for logs shown only on failure.
workdir="$(mktemp -d /tmp/phx-xtask-trixie.XXXXXX)"
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

# IDs of images this run replaced, removed at the end so a rebuild does not
# leave a dangling image of a GB behind.
replaced=()
remember_replaced() {
	local id
	if id="$(docker image inspect -f '{{.Id}}' "$1" 2>/dev/null)"; then
		replaced=("$id" "${replaced[@]}")
	fi
}
remove_replaced() {
	local id
	for id in "${replaced[@]}"; do
		if [ "$(docker image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null)" = 0 ]; then
			docker rmi "$id" >/dev/null 2>&1 || true
		fi
	done
}

# The container-specific configuration of the rootfs, as local-images.sh
# writes it for bookworm (trixie keeps apt sources in the same one-line form).
configure_rootfs() {
	local root="$1"
	cat >"$root/etc/apt/sources.list" <<-EOF
		deb $MIRROR $SUITE main
		deb $MIRROR $SUITE-updates main
		deb $SECURITY_MIRROR $SUITE-security main
	EOF
	# Package scripts must not start daemons during `docker build`.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
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
	if ! { chroot "$root" apt-get -q update &&
		chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y upgrade; } >"$workdir/apt.log" 2>&1; then
		tail -n 20 "$workdir/apt.log" >&2
		die "apt-get update/upgrade in the new rootfs failed (log above)" \
			"check that $MIRROR and $SECURITY_MIRROR are reachable over http"
	fi
	find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$root"/usr/share/{man,groff,info,locale,lintian}/* \
		"$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
		"$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/tmp/*
	: >"$root/etc/resolv.conf"
	printf 'localhost\n' >"$root/etc/hostname"
}

build_base() {
	local root="$workdir/root"
	remember_replaced "$BASE_IMAGE"
	log "debootstrap $SUITE (minbase) from $MIRROR into $root (about 70 s)"
	if ! debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$workdir/debootstrap.log" 2>&1; then
		tail -n 20 "$workdir/debootstrap.log" >&2
		die "debootstrap failed (log above)" "check that $MIRROR is reachable over http"
	fi
	log "configure rootfs (apt sources, policy-rc.d, slim dpkg excludes, upgrade)"
	configure_rootfs "$root"
	log "docker import -> $BASE_IMAGE"
	tar --numeric-owner -C "$root" -c . | docker import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV LANG=C.UTF-8' \
		--change 'CMD ["bash"]' \
		--message "debootstrap --variant=minbase $SUITE $MIRROR" \
		- "$BASE_IMAGE" >/dev/null
	remove_tree "$root"
}

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
