# The one-boot session of `cargo xtask migrate check`, written by phx-xtask
# into _build/xtask/ and run in the app as
#
#     mix run --no-start migration_session.exs MIGRATOR DIR
#
# It opens the app's first repo once, through MIGRATOR's with_repo/2
# (Ecto.Migrator, or a module with the same API), then applies and rolls back
# the migrations in DIR with MIGRATOR.run/4, one command per line on stdin:
#
#     up all | up VERSION | down VERSION | lint SCRIPT ARGS | quit
#
# `up VERSION` and `down VERSION` mean `run(repo, DIR, direction, to: VERSION)`
# as `mix ecto.migrate --to` and `mix ecto.rollback --to` do. Each command is
# answered by one stdout line starting "xtask-migrate: ": `ok V1 V2 …` (the
# versions it ran) or `error MESSAGE`. Everything else (Ecto's log, a
# stacktrace on stderr) is for people. It ends at `quit` or at the end of
# stdin, so the session never outlives phx-xtask.
#
# `lint SCRIPT ARGS` loads the migration lint (SCRIPT, lint.exs) without
# running it and runs it here with the arguments in the file ARGS (NUL
# separated): its records come first, each on a line "xtask-migrate: lint
# RECORD", then the answer `ok`. The lint needs no database; it runs in the
# session only to spare a BEAM boot.
defmodule PhxXtask.MigrateSession do
  @tag "xtask-migrate: "

  def main([migrator, dir]) do
    migrator = Module.concat([migrator])

    unless Code.ensure_loaded?(migrator) and function_exported?(migrator, :run, 4) do
      fail(
        "#{inspect(migrator)} is not loaded or has no run/4: add ecto_sql to the deps, or set " <>
          "[migrate] migrator in xtask.toml to a module with Ecto.Migrator's run/4 and with_repo/2"
      )
    end

    repo = repo!()
    use_database_url(repo)
    # Ecto compiles a migration file each time it runs it; the same module
    # comes back many times in one session, which is expected here.
    Code.put_compiler_option(:ignore_module_conflict, true)

    case migrator.with_repo(repo, fn repo -> unboxed(repo, fn -> serve(migrator, repo, dir) end) end) do
      {:ok, _, _} -> :ok
      {:error, reason} -> fail("cannot start #{inspect(repo)}: #{inspect(reason)}")
    end
  end

  # The first repo of `config :my_app, ecto_repos: [...]`, as `mix ecto.migrate` finds them.
  defp repo! do
    app = Mix.Project.config()[:app]

    case Application.get_env(app, :ecto_repos, []) do
      [repo | _] -> repo
      [] -> fail("config #{inspect(app)}, ecto_repos: [...] is not set: name the app's repo there")
    end
  end

  # An Ecto repo reads its database from the app's config (dev.exs names
  # my_app_dev): the check's database, in DATABASE_URL, wins over it, as a
  # `:url` does over the other connection options.
  defp use_database_url(repo) do
    url = System.get_env("DATABASE_URL")

    if url && Code.ensure_loaded?(repo) && function_exported?(repo, :config, 0) do
      otp_app = Keyword.fetch!(repo.config(), :otp_app)
      config = Application.get_env(otp_app, repo, [])
      Application.put_env(otp_app, repo, Keyword.put(config, :url, url))
    end
  end

  # Under MIX_ENV=test the repo's pool is the SQL sandbox; migrations run
  # outside it, as `mix ecto.migrate` runs them.
  defp unboxed(repo, fun) do
    pool = if function_exported?(repo, :config, 0), do: repo.config()[:pool]

    if pool && Code.ensure_loaded?(pool) && function_exported?(pool, :unboxed_run, 2),
      do: pool.unboxed_run(repo, fun),
      else: fun.()
  end

  defp serve(migrator, repo, dir) do
    IO.puts(@tag <> "ready #{inspect(repo)}")
    loop(migrator, repo, dir)
  end

  defp loop(migrator, repo, dir) do
    case IO.gets(:stdio, "") do
      line when is_binary(line) ->
        case String.split(line) do
          ["quit"] ->
            :ok

          words ->
            reply(command(migrator, repo, dir, words))
            loop(migrator, repo, dir)
        end

      _eof_or_error ->
        :ok
    end
  end

  defp command(migrator, repo, dir, ["up", "all"]), do: run(migrator, repo, dir, :up, all: true)

  defp command(migrator, repo, dir, [direction, version]) when direction in ["up", "down"] do
    case Integer.parse(version) do
      {v, ""} -> run(migrator, repo, dir, String.to_atom(direction), to: v)
      _ -> {:error, "not a version: #{version}"}
    end
  end

  defp command(_migrator, _repo, _dir, ["lint", script, args]), do: lint(script, args)

  defp command(_migrator, _repo, _dir, words), do: {:error, "unknown command: #{Enum.join(words, " ")}"}

  defp run(migrator, repo, dir, direction, opts) do
    {:ok, migrator.run(repo, dir, direction, opts)}
  rescue
    e ->
      IO.puts(:stderr, Exception.format(:error, e, __STACKTRACE__))
      {:error, Exception.message(e)}
  catch
    kind, reason -> {:error, Exception.format_banner(kind, reason)}
  end

  defp lint(script, args) do
    Application.put_env(:phx_xtask, :lint_loaded_only, true)
    Code.require_file(script)
    # Each argument ends with a NUL: only the empty tail goes, an empty
    # argument (`lint_after = ""`) stays, as it does on a command line.
    argv = args |> File.read!() |> String.split(<<0>>) |> Enum.drop(-1)
    Process.put(:migrate_lint_prefix, @tag <> "lint ")

    try do
      case apply(MigrateLint, :run, [argv]) do
        :ok -> {:ok, []}
        {:error, message} -> {:error, "lint.exs: " <> message}
      end
    rescue
      e ->
        IO.puts(:stderr, Exception.format(:error, e, __STACKTRACE__))
        {:error, "lint.exs crashed: " <> Exception.message(e)}
    after
      Process.delete(:migrate_lint_prefix)
    end
  end

  defp reply({:ok, versions}), do: IO.puts(@tag <> Enum.join(["ok" | versions], " "))

  defp reply({:error, message}),
    do: IO.puts(@tag <> "error " <> String.replace(message, ~r/\s*\n\s*/, " "))

  defp fail(message) do
    IO.puts(@tag <> "error " <> message)
    System.halt(1)
  end
end

PhxXtask.MigrateSession.main(System.argv())
