#!/usr/bin/env bash
# Runs the end-to-end suite (every tests/*.rs) on the trixie toolchain,
# Elixir 1.18 / OTP 27: the test binaries are built here on the host, then
# each runs in its own container of phx-xtask-local/toolchain:trixie through
# scripts/in-trixie.sh. What .ci/run calls after the host's `cargo test`.
#
# Usage: scripts/test-trixie.sh [TEST...] [-- HARNESS-ARGS...]
#   TEST           a file of tests/ without .rs (default: all of them)
#   HARNESS-ARGS   passed to every test binary (a filter, --nocapture, ...)
# Needs the image (scripts/trixie-image.sh). Exits non-zero if any file failed,
# after running all of them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

names=() harness=()
while [ $# -gt 0 ]; do
	case "$1" in
		--) shift; harness=("$@"); break ;;
		-h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
		*) [ -f "tests/$1.rs" ] || { echo "test-trixie: no tests/$1.rs" >&2; exit 2; }; names+=("$1") ;;
	esac
	shift
done
target_args=(--workspace --tests)
if [ ${#names[@]} -gt 0 ]; then
	target_args=()
	for n in "${names[@]}"; do target_args+=(--test "$n"); done
fi

# cargo names each built binary on stderr: "Executable tests/NAME.rs (PATH)".
built="$(mktemp)"
trap 'rm -f "$built"' EXIT
if ! cargo test "${target_args[@]}" --no-run 2>"$built"; then
	cat "$built" >&2
	echo "test-trixie: the test build failed (above)" >&2
	exit 1
fi
mapfile -t bins < <(sed -n 's|^ *Executable \(\.\./\)*tests/\([^ /]*\)\.rs (\(.*\))$|\2 \3|p' "$built")
[ ${#bins[@]} -gt 0 ] || { echo "test-trixie: cargo built no test of tests/" >&2; exit 1; }

scripts/in-trixie.sh toolchain-versions
failed=()
for entry in "${bins[@]}"; do
	name="${entry%% *}" bin="${entry#* }"
	printf '\n== trixie: tests/%s.rs\n' "$name"
	scripts/in-trixie.sh "$bin" "${harness[@]}" || failed+=("$name")
done
echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "test-trixie: failed on Elixir 1.18 / OTP 27: ${failed[*]}" >&2
	exit 1
fi
echo "test-trixie: all ${#bins[@]} test files passed on Elixir 1.18 / OTP 27"
