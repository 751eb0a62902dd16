# Sourced, not run: what scripts/local-images.sh (bookworm) and
# scripts/trixie-image.sh (trixie) share to build a Debian base image from
# packages alone: debootstrap a minbase rootfs, make it a container's, and
# `docker import` it; the scratch dir and its cleanup; and the removal of the
# images a rebuild replaced. The script that sources it sets SUITE, MIRROR,
# SECURITY_MIRROR, BASE_IMAGE and force, and defines die and log (its own
# prefix).
# shellcheck shell=bash

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Every precondition before the first side effect, so a missing tool never
# leaves a half-built set of images behind (`force` is the script's --force).
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
workdir="$(mktemp -d "/tmp/phx-xtask-$SUITE.XXXXXX")"
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
