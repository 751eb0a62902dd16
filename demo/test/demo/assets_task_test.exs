# Unit tests for `mix demo.assets`, which must fail clearly before npm has installed esbuild.
defmodule Mix.Tasks.Demo.AssetsTest do
  # Not async: the tests swap the global Mix shell to capture its output.
  use Demo.Case, async: false
  @moduletag :unit

  alias Mix.Tasks.Demo.Assets

  setup do
    shell = Mix.shell()
    Mix.shell(Mix.Shell.Process)
    on_exit(fn -> Mix.shell(shell) end)
  end

  @tag :tmp_dir
  test "build/2 names the fix when node_modules is missing", %{tmp_dir: dir} do
    error = assert_raise Mix.Error, fn -> Assets.build(dir, true) end
    assert error.message =~ "esbuild is not installed"
    assert error.message =~ "mix assets.setup"
  end

  test "esbuild_args/1 flattens the output and minifies only on request" do
    assert "--entry-names=[name]" in Assets.esbuild_args(false)
    refute "--minify" in Assets.esbuild_args(false)
    assert List.last(Assets.esbuild_args(true)) == "--minify"
  end

  @tag :tmp_dir
  test "build/2 runs esbuild from the assets dir and reports its failure", %{tmp_dir: dir} do
    esbuild = Assets.esbuild_path(dir)
    File.mkdir_p!(Path.dirname(esbuild))
    # A stand-in esbuild that prints its arguments and fails unless minifying.
    File.write!(esbuild, """
    #!/bin/sh
    echo "esbuild $*"
    case "$*" in *--minify*) exit 0 ;; *) exit 3 ;; esac
    """)

    File.chmod!(esbuild, 0o755)

    assert Assets.build(dir, true) == :ok
    assert_received {:mix_shell, :info, ["Bundling assets with " <> _]}
    assert_received {:mix_shell, :info, ["esbuild js/app.js css/app.css" <> args]}
    assert args =~ "--minify"

    assert_raise Mix.Error, ~r/esbuild exited with status 3/, fn -> Assets.build(dir, false) end
  end
end
