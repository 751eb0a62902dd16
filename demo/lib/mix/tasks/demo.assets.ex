# `mix demo.assets`: bundles the JS and CSS with the esbuild that npm installed, for the assets.* aliases.
defmodule Mix.Tasks.Demo.Assets do
  @shortdoc "Bundles assets/js/app.js and assets/css/app.css into priv/static/assets"

  @moduledoc """
  Bundles `assets/js/app.js` and `assets/css/app.css` into
  `priv/static/assets/app.js` and `app.css`.

      mix demo.assets            # readable output, for development
      mix demo.assets --minify   # minified output, for a release

  A Phoenix app would use the esbuild hex package, which downloads its own
  binary. The demo has no hex dependencies, so it runs the esbuild binary that
  `npm ci` installs in `assets/node_modules` (`mix assets.setup` does that).
  """

  use Mix.Task

  @impl Mix.Task
  def run(args) do
    {opts, _rest} = OptionParser.parse!(args, strict: [minify: :boolean])
    build(Path.expand("assets"), Keyword.get(opts, :minify, false))
  end

  @doc "Runs esbuild in `assets_dir`, raising a `Mix.Error` with the fix if it cannot."
  @spec build(Path.t(), boolean()) :: :ok
  def build(assets_dir, minify?) do
    esbuild = esbuild_path(assets_dir)

    unless File.regular?(esbuild) do
      Mix.raise("""
      esbuild is not installed: #{esbuild} is missing.
      Install the asset toolchain with `mix assets.setup` (or `npm ci --prefix assets`).
      """)
    end

    Mix.shell().info("Bundling assets with #{Path.relative_to_cwd(esbuild)}")

    case System.cmd(esbuild, esbuild_args(minify?), cd: assets_dir, stderr_to_stdout: true) do
      {output, 0} ->
        Mix.shell().info(output)

      {output, status} ->
        Mix.raise("esbuild exited with status #{status}:\n#{output}")
    end
  end

  @doc "The esbuild that `npm ci` links into `node_modules/.bin`."
  @spec esbuild_path(Path.t()) :: Path.t()
  def esbuild_path(assets_dir), do: Path.join([assets_dir, "node_modules", ".bin", "esbuild"])

  @doc """
  The esbuild arguments, the same as the `build` and `deploy` scripts in assets/package.json.

  `--entry-names=[name]` flattens the output so both files land directly in
  priv/static/assets, where the layout links them.
  """
  @spec esbuild_args(boolean()) :: [String.t()]
  def esbuild_args(minify?) do
    base = [
      "js/app.js",
      "css/app.css",
      "--bundle",
      "--target=es2020",
      "--entry-names=[name]",
      "--outdir=../priv/static/assets"
    ]

    if minify?, do: base ++ ["--minify"], else: base
  end
end
