#!/usr/bin/env bash
# Runs one command on the trixie toolchain (Elixir 1.18 / OTP 27), in a
# throwaway container of phx-xtask-local/toolchain:trixie (built by
# scripts/trixie-image.sh), and exits with the command's status.
#
# Usage: scripts/in-trixie.sh CMD ARGS...
#        scripts/in-trixie.sh cargo-e2e TEST [TEST-BINARY ARGS...]
#
# The container gets:
#   - this repo at the same path, and the current directory if it is inside
#     it, so the absolute paths baked into test binaries (CARGO_MANIFEST_DIR,
#     CARGO_BIN_EXE_xtask) resolve; in a git worktree, the main checkout's
#     .git too, so git works inside;
#   - /var/run/docker.sock, so testcontainers and `docker` reach the host's
#     engine, and --network host, so the ports those containers publish on
#     127.0.0.1 are the same ports inside;
#   - --pid host: the tests name networks, containers and databases after
#     their process id, and in a pid namespace of its own every container's
#     test binary would be pid 7, so two runs (or a run and the host's) would
#     take each other's names;
#   - the caller's uid and gid (and the socket's group), so files written to
#     the repo are owned as if run on the host;
#   - the host's CA bundle (read-only), for npm where TLS is intercepted;
#   - HOME=target/trixie-home: Mix's, npm's and rebar3's caches survive
#     between runs and never mix with the host's Elixir 1.14 ones;
#   - XTASK_*, CI, RUST_* and GITHUB_* variables passed through, and
#     XTASK_E2E_TOOLCHAIN=trixie so a test that needs the host's cargo can
#     skip with a message rather than fail.
# The container is removed when the command ends, and on Ctrl-C or SIGTERM.
#
# `cargo-e2e TEST` runs the already built test binary of tests/TEST.rs (the
# newest target/debug/deps/TEST-*; build it first with
# `cargo test --test TEST --no-run`), with the test harness's own ARGS.
set -euo pipefail

readonly IMAGE=phx-xtask-local/toolchain:trixie
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo_root

die() {
	printf 'in-trixie: error: %s\n' "$1" >&2
	shift
	local line
	for line in "$@"; do printf '  %s\n' "$line" >&2; done
	exit 2
}

[ $# -gt 0 ] || die "no command given" "usage: scripts/in-trixie.sh CMD ARGS..."
docker image inspect "$IMAGE" >/dev/null 2>&1 ||
	die "$IMAGE does not exist" "fix: scripts/trixie-image.sh (about 4 minutes, needs root for debootstrap)"

# The newest built binary of one test file, as `cargo test --no-run` left it.
test_binary() {
	local name="$1" bin
	bin="$(find "$repo_root/target/debug/deps" -maxdepth 1 -type f -executable -name "$name-*" \
		-printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2-)"
	[ -n "$bin" ] || die "no test binary for tests/$name.rs in target/debug/deps" \
		"fix: cargo test --test $name --no-run"
	printf '%s\n' "$bin"
}

if [ "$1" = cargo-e2e ]; then
	[ $# -ge 2 ] || die "cargo-e2e needs a test name" "usage: scripts/in-trixie.sh cargo-e2e TEST [ARGS...]"
	bin="$(test_binary "$2")"
	shift 2
	set -- "$bin" "$@"
fi

home="$repo_root/target/trixie-home"
mkdir -p "$home"
workdir="$PWD"
case "$workdir/" in "$repo_root"/*) ;; *) workdir="$repo_root" ;; esac

name="phx-xtask-trixie-$$-$RANDOM"
args=(
	--rm --name "$name"
	--network host --pid host
	# Root in the container may read the cwd of the native services' processes
	# (another uid) in /proc, as root on the host does; not --privileged.
	--cap-add SYS_PTRACE
	-v "$repo_root:$repo_root" -w "$workdir"
	-v /var/run/docker.sock:/var/run/docker.sock
	--user "$(id -u):$(id -g)" -e HOME="$home"
	-e XTASK_E2E_TOOLCHAIN=trixie
)
# In a git worktree, .git is a file pointing into the main checkout's .git:
# mount that too, or `git ls-files` (the tests' copy of demo/) fails inside.
git_common="$(git -C "$repo_root" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
case "$git_common/" in
	"$repo_root"/* | /) ;;
	*) args+=(-v "$git_common:$git_common") ;;
esac
# The host's CA bundle, where TLS to the registries is intercepted by a CA
# only the host trusts: without it npm fails with SELF_SIGNED_CERT_IN_CHAIN.
# Node reads its own CA list unless told, hence NODE_EXTRA_CA_CERTS.
readonly ca=/etc/ssl/certs/ca-certificates.crt
if [ -f "$ca" ]; then
	args+=(-v "$ca:$ca:ro" -e "NODE_EXTRA_CA_CERTS=$ca")
fi
if [ -S /var/run/docker.sock ]; then
	args+=(--group-add "$(stat -c %g /var/run/docker.sock)")
fi
# Passed by name only, so values (tokens included) never appear on a command line.
while IFS="=" read -r var _; do
	case "$var" in
		XTASK_* | CI | RUST_* | GITHUB_* | TERM | NO_COLOR) args+=(-e "$var") ;;
	esac
done < <(env)
[ -t 0 ] && args+=(-i)
[ -t 0 ] && [ -t 1 ] && args+=(-t)

# Run in the background and wait, so a SIGTERM to this script is handled now
# (bash defers traps until a foreground child exits) and the container goes
# with it; docker's --rm cleans up after a normal exit.
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; }
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
docker run "${args[@]}" "$IMAGE" "$@" <&0 &
pid=$!
set +e
wait "$pid"
status=$?
set -e
exit "$status"
