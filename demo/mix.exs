# Mix project for the Phoenix-shaped demo app that phx-xtask runs its CI steps against.
defmodule Demo.MixProject do
  use Mix.Project

  def project do
    [
      app: :demo,
      version: "0.1.0",
      elixir: "~> 1.14",
      elixirc_paths: elixirc_paths(Mix.env()),
      start_permanent: Mix.env() == :prod,
      # The demo must build where hex.pm is unreachable, so it has no dependencies
      # and talks to Postgres and Redis through the small clients in lib/demo/.
      deps: [],
      aliases: aliases(),
      # With services up the suite covers about 88 % under SCRAM auth and 81 %
      # under trust auth (which skips the password code); 75 leaves room for
      # either. Without services the total falls well below, so CI checks it
      # only when the integration tests run. Test helpers are not app code.
      test_coverage: [
        summary: [threshold: 75],
        ignore_modules: [Demo.Case, Demo.FakeRedis]
      ]
    ]
  end

  # :crypto is listed because Demo.PG uses it for md5 and SCRAM-SHA-256 auth,
  # and the compiler warns about calls into applications that are not listed.
  def application do
    [
      mod: {Demo.Application, []},
      extra_applications: [:logger, :crypto]
    ]
  end

  # test/support holds case templates that only the test suite should compile.
  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  # The asset aliases mirror a Phoenix app's, but call the esbuild that npm
  # installed in assets/node_modules instead of the esbuild hex package.
  defp aliases do
    [
      setup: ["deps.get", "assets.setup", "assets.build"],
      "assets.setup": ["cmd --cd assets npm ci"],
      "assets.build": ["demo.assets"],
      "assets.deploy": ["demo.assets --minify"]
    ]
  end
end
