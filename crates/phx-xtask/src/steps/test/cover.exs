# Written by `cargo xtask test` under _build/ and run from the app dir in one
# of two ways. Chained after a whole suite in the test env's own `mix do … +
# test --raise --cover --export-coverage suite … + run --no-compile
# --no-start _build/xtask/cover.exs`, it reads the data `mix test --cover`
# left in that VM: no boot of its own. Else (partitions, a partial run, the
# legs' merge) `MIX_ENV=test elixir`: not `mix run` or `mix test.coverage`,
# which would each load and check every dep first; it merges the exports
# (one .coverdata per partition or leg). Either way it prints the table and total as `mix
# test.coverage` computes them, writes its HTML pages and cover/lcov.info for
# Codecov-style uploads, and fails below the threshold naming the modules that
# pull the total down. Only OTP's :cover is used, so it needs no hex package.
#
# Exit codes: 0 passed (or no threshold), 3 below the threshold (as `mix
# test.coverage`), anything else a failure of the script itself.
#
# Environment:
#   XTASK_COVER_EXPORTS          comma-separated export names (partition-1,...)
#   XTASK_COVERAGE_THRESHOLD     overrides the app's threshold (xtask.toml)
#   XTASK_COVERAGE_REPORT_ONLY   a reason not to enforce it (a partial run)
defmodule XtaskCover do
  @default_threshold 90

  def main do
    # Under plain `elixir`, Mix is started only to evaluate mix.exs, which
    # pushes the project as the `mix` command would (MIX_ENV picks the env);
    # no task runs. Under `mix run` the project is already there.
    Mix.start()
    if Mix.Project.get() == nil, do: Code.compile_file("mix.exs")
    opts = Mix.Project.config()[:test_coverage] || []
    output = Keyword.get(opts, :output, "cover")
    files = coverdata(output)

    ignore = opts[:ignore_modules] || []
    modules = cover_data(files) |> Enum.reject(&ignored?(&1, ignore)) |> Enum.sort()
    {:result, results, _fail} = :cover.analyse(modules, :coverage, :line)
    {per_module, total} = gather(results, modules)

    {threshold, from} = threshold(opts)
    if threshold, do: table(per_module, total)
    html(modules, output, per_module)
    lcov = Path.join(output, "lcov.info")
    sources = write_lcov(lcov, modules)
    IO.puts("coverage: #{pct(total)}% (#{threshold_text(threshold, from)})")
    IO.puts("lowest: " <> Enum.map_join(Enum.take(Enum.sort(per_module), 3), ", ", &module_text/1))
    IO.puts("wrote #{lcov} (#{sources} source files, from #{Enum.join(files, ", ")})")
    check(total, threshold, per_module)
  end

  defp coverdata(output) do
    names = String.split(System.get_env("XTASK_COVER_EXPORTS", ""), ",", trim: true)
    files = for n <- names, f = Path.join(output, "#{n}.coverdata"), File.exists?(f), do: f

    if files == [] do
      IO.puts("coverage: no #{Enum.join(names, ", ")} .coverdata in #{output}/: did `mix test --cover` run?")
      exit({:shutdown, 1})
    end

    files
  end

  # The modules with coverage data. In the VM that ran the suite, cover
  # still holds every module `mix test --cover` compiled, with the counts
  # it exported a moment ago: analyse them where they are. Stopping cover
  # to import the export instead would unload the code the app's running
  # processes use.
  #
  # Else an export holds every module `mix test --cover` compiled, with
  # each line's count: the set `mix test.coverage` cover-compiles again
  # before importing. Analysing the imported data alone gives the same
  # figures without compiling anything; the beams are on the path for the
  # sources.
  defp cover_data(files) do
    live = if Process.whereis(:cover_server), do: :cover.modules(), else: []

    if live != [] do
      live
    else
      start_cover()
      Enum.each(files, fn f -> :ok = :cover.import(String.to_charlist(f)) end)
      Code.prepend_path(Mix.Project.compile_path())
      Code.prepend_path(Mix.Project.consolidation_path())
      :cover.imported_modules()
    end
  end

  # Plain `elixir` has every OTP app on its code path, :tools (cover) too.
  defp start_cover do
    _ = :cover.stop()
    {:ok, pid} = :cover.start()
    # cover prints a line for every import and analysis; mix silences it too.
    {:ok, string_io} = StringIO.open("")
    Process.group_leader(pid, string_io)
  end

  # `mix test.coverage`'s table: each module's percentage, lowest first.
  defp table(per_module, total) do
    rows = for {p, mod, _} <- Enum.sort(per_module), do: {p, inspect(mod)}
    width = rows |> Enum.map(&String.length(elem(&1, 1))) |> Enum.max(fn -> 0 end) |> max(10)
    line = "-----------|-" <> String.duplicate("-", width)
    IO.puts("Percentage | Module")
    IO.puts(line)
    Enum.each(rows, fn {p, name} -> IO.puts("#{pad(p)}% | #{name}") end)
    IO.puts(line)
    IO.puts("#{pad(total)}% | Total\n")
  end

  defp pad(p), do: String.pad_leading(pct(p), 9)

  # As `mix test.coverage` writes it: one page per module, each written by
  # a process of its own. Cover links that process to us and has it exit
  # with the error when a page cannot be written ({:no_source_code_found,
  # Mod} for a module whose source is not where its beam says); Mix's task
  # dies of that exit. We trap it instead: such a module gets a page saying
  # why it has none, with its figures, and its lines stay in the total, as
  # Mix computes the total before it writes any page.
  defp html(modules, output, per_module) do
    File.mkdir_p!(output)
    Process.flag(:trap_exit, true)

    failed =
      modules
      |> Enum.map(fn mod ->
        pid = :cover.async_analyse_to_file(mod, ~c"#{output}/#{mod}.html", [:html])
        {mod, Process.monitor(pid)}
      end)
      |> Enum.flat_map(fn {mod, ref} ->
        receive do
          {:DOWN, ^ref, :process, _, reason} when reason in [:normal, :ok] -> []
          {:DOWN, ^ref, :process, _, reason} -> [{mod, reason}]
        end
      end)

    Process.flag(:trap_exit, false)
    figures = Map.new(per_module, fn {p, mod, not_covered} -> {mod, {p, not_covered}} end)
    whys = Enum.map(failed, &skipped_page(&1, output, figures))
    # A moved app has no page at all: name a few, not every module.
    {shown, rest} = Enum.split(whys, 5)
    Enum.each(shown, &IO.puts/1)
    if rest != [], do: IO.puts("... and #{length(rest)} more modules without a page (each has one saying why)")
    written = length(modules) - length(failed)
    IO.puts("Generated HTML coverage results in #{inspect(output)} directory (#{written} pages)")
  end

  # A page in place of the one cover could not write; returns the line to print.
  defp skipped_page({mod, reason}, output, figures) do
    why = why_no_page(mod, reason)
    {p, not_covered} = Map.get(figures, mod, {100.0, 0})

    page = """
    <!DOCTYPE html>
    <html><head><meta charset="utf-8"><title>#{html_escape(inspect(mod))}</title></head>
    <body><h1>#{html_escape(inspect(mod))}</h1>
    <p>No line-by-line page: #{html_escape(why)}.</p>
    <p>Coverage #{pct(p)}% (#{not_covered} lines not covered), counted in the total.</p>
    </body></html>
    """

    File.write!(Path.join(output, "#{mod}.html"), page)
    "skipped the HTML page of #{inspect(mod)}: #{why}; its #{pct(p)}% still counts in the total"
  end

  # Why cover could not write the page, from what the beam records.
  defp why_no_page(mod, {:no_source_code_found, _}) do
    case compiled_from(mod) do
      nil ->
        "its beam records no source file"

      src ->
        cond do
          File.regular?(src) -> "cover found no source for it (generated code; its beam names #{rel(src)})"
          relocate(src) -> "it was compiled at #{src}: the app moved since it was compiled"
          true -> "#{rel(src)}, which it was compiled from, is gone"
        end
    end
  end

  defp why_no_page(_mod, reason), do: "cover could not write it: #{inspect(reason)}"

  defp rel(path), do: Path.relative_to(path, File.cwd!())

  defp html_escape(text) do
    text |> String.replace("&", "&amp;") |> String.replace("<", "&lt;") |> String.replace(">", "&gt;")
  end

  defp ignored?(mod, ignores), do: Enum.any?(ignores, &ignored_any?(mod, &1))
  defp ignored_any?(mod, %Regex{} = re), do: Regex.match?(re, inspect(mod))
  defp ignored_any?(mod, other), do: mod == other

  # `mix test.coverage`'s arithmetic: executable lines per module, skipping
  # line 0 (generated code); a line with several entries counts once, as
  # covered if any entry is (Mix dedups them on OTP < 27, where cover does
  # not); a module without lines counts as 100%.
  defp gather(results, modules) do
    keep = MapSet.new(modules)

    lines =
      for {{mod, line}, {cov, _not_cov}} <- results, line != 0, MapSet.member?(keep, mod), reduce: %{} do
        acc -> Map.update(acc, {mod, line}, cov > 0, &(&1 or cov > 0))
      end

    counts =
      Enum.reduce(lines, Map.new(modules, &{&1, {0, 0}}), fn {{mod, _}, covered}, acc ->
        Map.update!(acc, mod, fn {c, n} -> if covered, do: {c + 1, n}, else: {c, n + 1} end)
      end)

    {per_module, {c, n}} =
      Enum.map_reduce(counts, {0, 0}, fn {mod, {c, n} = counts}, {tc, tn} ->
        {{percentage(counts), mod, n}, {tc + c, tn + n}}
      end)

    {per_module, percentage({c, n})}
  end

  defp percentage({0, 0}), do: 100.0
  defp percentage({c, n}), do: c / (c + n) * 100

  # xtask.toml wins; else the app's own summary threshold; `summary: false`
  # means the app checks none.
  defp threshold(opts) do
    case {System.get_env("XTASK_COVERAGE_THRESHOLD"), Keyword.get(opts, :summary, true)} do
      {t, _} when t not in [nil, ""] -> {elem(Float.parse(t), 0), "[test] coverage_threshold in xtask.toml"}
      {_, s} when s in [false, nil] -> {nil, "mix.exs test_coverage: [summary: false]"}
      {_, true} -> {@default_threshold, "Elixir's default"}
      {_, s} -> {Keyword.get(s, :threshold, @default_threshold), "mix.exs test_coverage"}
    end
  end

  defp threshold_text(nil, from), do: "no threshold: #{from}"
  defp threshold_text(t, from), do: "threshold #{num(t)}% from #{from}"

  defp check(total, threshold, per_module) do
    reason = System.get_env("XTASK_COVERAGE_REPORT_ONLY", "")

    cond do
      threshold == nil or total >= threshold ->
        :ok

      reason != "" ->
        IO.puts("threshold not checked: #{reason}")

      true ->
        IO.puts("coverage #{pct(total)}% is below the threshold #{num(threshold)}%; the modules that pull it down most:")

        per_module
        |> Enum.filter(fn {p, _, _} -> p < threshold end)
        |> Enum.sort_by(fn {_, _, not_covered} -> -not_covered end)
        |> Enum.take(5)
        |> Enum.each(&IO.puts("  " <> module_text(&1)))

        exit({:shutdown, 3})
    end
  end

  defp module_text({p, mod, not_covered}),
    do: "#{inspect(mod)} #{pct(p)}% (#{not_covered} lines not covered)"

  defp pct(x), do: :erlang.float_to_binary(x / 1, decimals: 2)
  defp num(t) when is_integer(t), do: Integer.to_string(t)
  defp num(t) when t == trunc(t), do: Integer.to_string(trunc(t))
  defp num(t), do: pct(t)

  # One record per source file (a file may hold several modules), with the
  # path relative to the app, as lcov consumers expect.
  defp write_lcov(path, modules) do
    cwd = File.cwd!()

    by_source =
      Enum.reduce(modules, %{}, fn mod, acc ->
        {:ok, lines} = :cover.analyse(mod, :calls, :line)
        lines = for {{_m, line}, calls} <- lines, line != 0, do: {line, calls}

        # A source that is not there (deleted, moved) has no record: a
        # coverage service could not show it either.
        case existing_source(compiled_from(mod)) do
          nil -> acc
          src -> Map.update(acc, Path.relative_to(src, cwd), lines, &(&1 ++ lines))
        end
      end)

    records =
      for {src, lines} <- Enum.sort(by_source) do
        merged = lines |> Enum.group_by(&elem(&1, 0), &elem(&1, 1)) |> Enum.map(fn {l, cs} -> {l, Enum.sum(cs)} end)
        merged = Enum.sort(merged)
        da = Enum.map(merged, fn {l, c} -> "DA:#{l},#{c}\n" end)
        hit = Enum.count(merged, fn {_, c} -> c > 0 end)
        ["TN:\nSF:#{src}\n", da, "LF:#{length(merged)}\nLH:#{hit}\nend_of_record\n"]
      end

    File.mkdir_p!(Path.dirname(path))
    File.write!(path, records)
    length(records)
  end

  # The source as it is now: where it was compiled, or the same file in this
  # checkout when the app moved since (a _build restored into another path).
  defp existing_source(nil), do: nil
  defp existing_source(src), do: if(File.regular?(src), do: src, else: relocate(src))

  # The longest tail of the recorded path, two components or more
  # (lib/x.ex), that names a file under the current dir.
  defp relocate(src) do
    parts = Path.split(src)

    1..max(length(parts) - 2, 0)//1
    |> Enum.map(&Path.join(Enum.drop(parts, &1)))
    |> Enum.find(&File.regular?/1)
    |> case do
      nil -> nil
      found -> Path.expand(found)
    end
  end

  # The source recorded at compile time, the same as module_info(:compile)[:source].
  # A module cover compiled in this VM has no beam of its own loaded: its
  # beam is still the one in the build, on the code path.
  defp compiled_from(mod) do
    with path when is_list(path) <- beam(mod),
         {:ok, {_, [compile_info: info]}} <- :beam_lib.chunks(path, [:compile_info]),
         src when src != nil <- info[:source] do
      List.to_string(src)
    else
      _ -> nil
    end
  end

  defp beam(mod) do
    case :code.which(mod) do
      :cover_compiled -> :code.where_is_file(~c"#{mod}.beam")
      path -> path
    end
  end
end

XtaskCover.main()
