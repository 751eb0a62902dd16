# An ExUnit formatter that writes JUnit XML, loaded into the app's test run by phx-xtask (no hex package needed).
defmodule PhxXtask.JUnitFormatter do
  @moduledoc false
  # ExUnit starts each formatter as a GenServer and casts it the suite's
  # events; this one keeps every finished test and, when the suite ends,
  # writes one <testsuite> per test module to the file in XTASK_JUNIT.
  use GenServer

  @impl GenServer
  def init(_opts), do: {:ok, %{tests: [], started: System.monotonic_time(:microsecond)}}

  @impl GenServer
  def handle_cast({:test_finished, %ExUnit.Test{} = test}, state) do
    {:noreply, %{state | tests: [test | state.tests]}}
  end

  # A leg of a split suite reports when its first test started and when
  # the suite ended (wall clock, ms), for its time before the first test.
  def handle_cast({:test_started, _test}, state) do
    {:noreply, Map.put_new(state, :first_test, System.os_time(:millisecond))}
  end

  def handle_cast({:suite_finished, _times}, state) do
    write(Enum.reverse(state.tests))
    write_clock(state[:first_test])
    {:noreply, state}
  end

  def handle_cast(_event, state), do: {:noreply, state}

  defp write(tests) do
    case System.get_env("XTASK_JUNIT") do
      nil ->
        :ok

      path ->
        File.mkdir_p!(Path.dirname(path))
        File.write!(path, xml(tests))
    end
  end

  defp write_clock(first) do
    with path when is_binary(path) <- System.get_env("XTASK_LEG_CLOCK") do
      File.write!(path, "#{first || ""} #{System.os_time(:millisecond)}\n")
    end
  end

  defp xml(tests) do
    suites =
      tests
      |> Enum.group_by(& &1.module)
      |> Enum.sort_by(fn {module, _} -> inspect(module) end)
      |> Enum.map(&suite/1)

    [~s(<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n), suites, "</testsuites>\n"]
  end

  defp suite({module, tests}) do
    failures = Enum.count(tests, &match?({:failed, _}, &1.state))
    skipped = Enum.count(tests, &skipped?/1)
    time = tests |> Enum.map(& &1.time) |> Enum.sum() |> seconds()

    [
      ~s(  <testsuite name="#{esc(inspect(module))}" tests="#{length(tests)}" failures="#{failures}" errors="0" skipped="#{skipped}" time="#{time}">\n),
      Enum.map(tests, &case_xml/1),
      "  </testsuite>\n"
    ]
  end

  defp skipped?(%{state: {state, _}}) when state in [:skipped, :excluded], do: true
  defp skipped?(_test), do: false

  defp case_xml(test) do
    file = Path.relative_to_cwd(test.tags[:file] || "")
    line = test.tags[:line] || 0

    attrs =
      ~s(name="#{esc(to_string(test.name))}" classname="#{esc(inspect(test.module))}" file="#{esc(file)}" line="#{line}" time="#{seconds(test.time)}")

    case test.state do
      {:failed, failures} ->
        message = failures |> Enum.map_join("\n", &message/1)
        first = first_line(failures)
        at = location(failures, file, line)

        [
          ~s(    <testcase #{attrs}>\n),
          ~s(      <failure message="#{esc(first)}" type="#{esc(kind(failures))}" file="#{esc(at.file)}" line="#{at.line}">),
          esc(message),
          "</failure>\n    </testcase>\n"
        ]

      state when state in [nil] ->
        ~s(    <testcase #{attrs}/>\n)

      {reason, _} when reason in [:skipped, :excluded] ->
        ~s(    <testcase #{attrs}><skipped/></testcase>\n)

      {:invalid, _} ->
        ~s(    <testcase #{attrs}><error message="invalid: setup_all failed"/></testcase>\n)
    end
  end

  defp message({kind, reason, stack}) do
    Exception.format_banner(kind, reason, stack) <> "\n" <> Exception.format_stacktrace(stack)
  end

  # What a reader needs first: the assertion's own message, not the banner.
  defp first_line([{:error, %{__exception__: true} = e, _} | _]) do
    e |> Exception.message() |> String.split("\n", trim: true) |> List.first("failed")
  end

  defp first_line([{kind, reason, stack} | _]) do
    kind |> Exception.format_banner(reason, stack) |> String.split("\n") |> hd()
  end

  defp kind([{kind, %{__struct__: struct}, _} | _]), do: "#{kind}: #{inspect(struct)}"
  defp kind([{kind, _, _} | _]), do: to_string(kind)
  defp kind(_), do: "error"

  # The failing line: the first stack entry in the test's own file, else
  # the test's definition.
  defp location(failures, file, line) do
    failures
    |> Enum.flat_map(fn {_, _, stack} -> stack end)
    |> Enum.find_value(%{file: file, line: line}, fn
      {_, _, _, info} ->
        f = info[:file] && Path.relative_to_cwd(to_string(info[:file]))
        if f == file and info[:line], do: %{file: f, line: info[:line]}

      _ ->
        nil
    end)
  end

  defp seconds(us), do: :erlang.float_to_binary(us / 1_000_000, decimals: 3)

  defp esc(text) do
    text
    |> to_string()
    |> String.replace("&", "&amp;")
    |> String.replace("<", "&lt;")
    |> String.replace(">", "&gt;")
    |> String.replace("\"", "&quot;")
    |> String.replace(~r/[\x00-\x08\x0B\x0C\x0E-\x1F]/, "")
  end
end
