#!/usr/bin/env bash
# Installs what phx-xtask and its tests need on Debian 12 / Ubuntu, as root:
# the README's path without Nix, and the first thing .ci/run does. Safe to
# run again: apt skips what is installed, and node is left alone when present.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-debian.sh installs packages: run it as root (sudo $0)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

packages=(
  # Elixir on OTP, with dialyzer and cover (erlang-tools) for the steps.
  elixir erlang-dev erlang-dialyzer erlang-tools erlang-src rebar3
  # The docker engine and what builds the stand-in service images.
  docker.io debootstrap
  # The native service backend, and psql for poking at it.
  postgresql-15 postgresql-client-15 redis-server
  # The deploy's HTTP (curl), and for the tests: a real registry (Debian's
  # docker-registry, with htpasswd) and a real reverse proxy (nginx).
  curl docker-registry apache2-utils nginx-light
  # The repo's own checks (flake parsing) and the benchmarks (jq reads the
  # JSON report); headless chromium screenshots report.html in the tests.
  nix-bin hyperfine jq chromium
  git ca-certificates procps
)
# Debian's nodejs is 18, enough for the demo; a newer node already on the
# machine (nodesource, nvm) is kept rather than downgraded.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "installed: ${packages[*]}"
