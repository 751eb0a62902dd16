# The dev shell that `cargo xtask` runs in, on a laptop and in CI alike.
#
# Versions are not chosen here: xtask.toml's [toolchain] table pins them and
# this file only maps each pin onto a nixpkgs attribute, so bumping Elixir is
# an edit to xtask.toml and nothing else.
{
  description = "phx-xtask: a Phoenix app's whole CI/CD as `cargo xtask <step>`";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs =
    { nixpkgs, ... }:
    let
      inherit (nixpkgs) lib;

      inherit (builtins.fromTOML (builtins.readFile ./xtask.toml)) toolchain;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # A pin that nixpkgs lacks would otherwise surface as a bare "attribute
      # missing" deep inside nixpkgs; name the pin and the way out instead.
      pinned =
        set: where: key: attr:
        set.${attr} or (throw ''
          xtask.toml pins ${key} = "${toolchain.${key}}", but the locked nixpkgs has no ${where}.${attr}.
          Pin a version that nixpkgs packages, or move the nixpkgs input in flake.nix.
        '');

      devShell =
        pkgs:
        let
          # Elixir comes from the package set of the pinned OTP, not from the
          # top-level elixir_1_15, which nixpkgs builds on its default (newer)
          # OTP; Elixir 1.15 supports OTP 26 at most.
          beamPkgs = pinned pkgs.beam.packages "beam.packages" "otp" "erlang_${toolchain.otp}";
          elixir =
            pinned beamPkgs "beam.packages.erlang_${toolchain.otp}" "elixir"
              "elixir_${lib.replaceStrings [ "." ] [ "_" ] toolchain.elixir}";

          # nixpkgs carries a single redis (7.2.x on nixos-25.05, since 7.4
          # left the BSD licence), so the pin can only be checked, not chosen.
          redis =
            if lib.versions.major pkgs.redis.version == toolchain.redis then
              pkgs.redis
            else
              throw ''
                xtask.toml pins redis = "${toolchain.redis}", but the locked nixpkgs has redis ${pkgs.redis.version}.
                Pin redis = "${lib.versions.major pkgs.redis.version}", or move the nixpkgs input in flake.nix.
              '';

          # C.UTF-8 is built into glibc; macOS only has the named locales.
          locale = if pkgs.stdenv.hostPlatform.isDarwin then "en_US.UTF-8" else "C.UTF-8";
        in
        pkgs.mkShell {
          packages = [
            elixir
            # The same erlang the elixir above was built with.
            beamPkgs.erlang
            (pinned pkgs "pkgs" "node" "nodejs_${toolchain.node}")
            (pinned pkgs "pkgs" "postgres" "postgresql_${toolchain.postgres}")
            redis

            pkgs.docker-client
            pkgs.flyctl
            # The deploy's health gate and notifications speak HTTP(S) through curl.
            pkgs.curl

            pkgs.rustc
            pkgs.cargo
            pkgs.clippy
            pkgs.rustfmt

            # The repo's own checks (scripts/check-repo.sh, tests/repo.rs).
            pkgs.git
            pkgs.actionlint
            pkgs.deadnix
            pkgs.hadolint
          ];

          # `mix local.hex` and `mix local.rebar` download, which a pure shell
          # (and an offline laptop) cannot do, yet Mix wants the Hex SCM even
          # for path dependencies; hand it both from the store instead. Hex is
          # rebuilt with the pinned Elixir (as nixpkgs' fetchMixDeps does):
          # the set's default hex is compiled by its newest Elixir, whose
          # beams an older Elixir is not guaranteed to load.
          MIX_PATH = "${beamPkgs.hex.override { inherit elixir; }}/lib/erlang/lib/hex/ebin";
          MIX_REBAR3 = "${beamPkgs.rebar3}/bin/rebar3";

          ERL_AFLAGS = "-kernel shell_history enabled";

          # The VM picks its filename encoding from the locale: without UTF-8
          # it falls back to latin1 and warns, and a laptop whose LC_ALL says
          # otherwise would no longer behave like CI.
          LANG = locale;
          LC_ALL = locale;

          shellHook = ''
            # Hex and Mix keep their caches and archives inside the project,
            # so nothing leaks into (or is picked up from) the user's home.
            export MIX_HOME="$PWD/.nix-mix"
            export HEX_HOME="$PWD/.nix-hex"
            mkdir -p "$MIX_HOME" "$HEX_HOME"
            export PATH="$MIX_HOME/bin:$MIX_HOME/escripts:$HEX_HOME/bin:$PATH"

            # The greeting is for people: stderr keeps `nix develop --command`
            # output clean, and CI logs have no terminal to greet.
            if [ -t 2 ]; then
              echo "phx-xtask dev shell: cargo xtask ci | cargo xtask doctor | cargo xtask services up" >&2
            fi
          '';
        };
    in
    {
      devShells = forAllSystems (pkgs: {
        default = devShell pkgs;
      });
    };
}
