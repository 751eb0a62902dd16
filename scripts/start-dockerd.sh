#!/usr/bin/env bash
# Makes sure a Docker daemon is answering, starting dockerd in the background if
# needed. For machines and containers without systemd (CI sandboxes, a fresh
# Debian with docker.io just installed), where nothing else would start it.
#
# Usage: scripts/start-dockerd.sh [DOCKERD_ARG...]
#   Extra arguments go to dockerd (e.g. --storage-driver=vfs where overlayfs is
#   unavailable). They are ignored if a daemon is already answering.
# Environment:
#   DOCKERD_LOG   where dockerd's output goes (default /tmp/dockerd.log)
#
# Safe to run again and again: it exits 0 at once when `docker info` works.
set -euo pipefail

readonly LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
readonly WAIT_SECONDS=30

die() {
	printf 'start-dockerd: error: %s\n' "$1" >&2
	shift
	local line
	for line in "$@"; do printf '  %s\n' "$line" >&2; done
	exit 1
}

if docker info >/dev/null 2>&1; then
	exit 0
fi

command -v docker >/dev/null || die "the docker CLI is not installed" "fix: apt-get install docker.io"
command -v dockerd >/dev/null || die "dockerd is not installed" "fix: apt-get install docker.io"

if [ "$(id -u)" != 0 ]; then
	# With a socket present a daemon is most likely running and this user may
	# not talk to it; starting a second daemon would not help.
	if [ -S /var/run/docker.sock ]; then
		die "/var/run/docker.sock exists but \`docker info\` fails:" \
			"$(docker info 2>&1 >/dev/null | tail -n 3)" \
			"fix: run as root, or join the docker group (usermod -aG docker \$USER, then log in again)"
	fi
	die "dockerd must be started as root" "fix: sudo $0 $*"
fi

printf 'start-dockerd: starting dockerd (log: %s)\n' "$LOG" >&2
# setsid + nohup: the daemon must outlive this script and the shell or CI step
# that ran it, and must not get that session's SIGHUP.
nohup setsid dockerd "$@" >>"$LOG" 2>&1 </dev/null &
pid=$!

for ((i = 0; i < WAIT_SECONDS * 4; i++)); do
	if docker info >/dev/null 2>&1; then
		printf 'start-dockerd: dockerd is up (pid %s)\n' "$pid" >&2
		exit 0
	fi
	# Stop waiting as soon as the daemon has died; the log says why (including
	# "pid file found" when another dockerd runs but does not answer).
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.25
done

if kill -0 "$pid" 2>/dev/null; then
	reason="dockerd (pid $pid) did not answer within ${WAIT_SECONDS}s"
else
	reason="dockerd exited before answering"
fi
printf 'start-dockerd: last lines of %s:\n' "$LOG" >&2
tail -n 25 "$LOG" | sed 's/^/  | /' >&2
die "$reason" "see the full log in $LOG"
