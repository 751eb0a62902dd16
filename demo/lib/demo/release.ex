# Release tasks (migrate, rollback, status) for `bin/demo eval`, where Mix is not available.
defmodule Demo.Release do
  @moduledoc """
  Used for executing DB release tasks when run in production without Mix
  installed, like the module `mix phx.gen.release` generates:

      bin/migrate                                     # = bin/demo eval Demo.Release.migrate
      bin/demo eval "Demo.Release.status()"
      bin/demo eval "Demo.Release.migrate_to(20250301120100)"
      bin/demo eval "Demo.Release.rollback(Demo.Repo, 20250301120100)"

  The demo has no Ecto, so `Demo.Migrator` stands in for `Ecto.Migrator`,
  over `Demo.PG` and the `DATABASE_URL` that `config/runtime.exs` reads at boot.
  `Demo.Repo` is not a module: it is the name `config :demo, ecto_repos:` gives
  the one database, so that deploy tooling calls `rollback/2` with the same
  arguments as in any Phoenix app.

  Each function raises when it fails, so `bin/demo eval` exits non-zero and a
  deploy step that runs it stops there.
  """

  @app :demo

  @doc "Applies every pending migration, oldest first; running it again changes nothing."
  @spec migrate() :: [Demo.Migrator.version()]
  def migrate do
    load_app()

    for repo <- repos(), version <- with_repo(repo, &run(&1, :up, all: true)) do
      version
    end
  end

  @doc """
  Applies the pending migrations up to and including `version`, oldest first,
  as `Ecto.Migrator.run(repo, :up, to: version)` does (`mix ecto.migrate
  --to`). `cargo xtask migrate check` uses it to bring one migration back up
  after its rollback.
  """
  @spec migrate_to(Demo.Migrator.version()) :: [Demo.Migrator.version()]
  def migrate_to(version) when is_integer(version) do
    load_app()

    for repo <- repos(), applied <- with_repo(repo, &run(&1, :up, to: version)) do
      applied
    end
  end

  @doc """
  Rolls back every applied migration from the newest down to `version`,
  including `version` itself, as `Ecto.Migrator.run(repo, :down, to: version)`
  does. To undo only the latest migration, pass its own version.
  """
  @spec rollback(atom(), Demo.Migrator.version()) :: [Demo.Migrator.version()]
  def rollback(repo, version) when is_integer(version) do
    load_app()

    unless repo in repos() do
      raise ArgumentError,
            "unknown repo #{inspect(repo)}: this app's is #{Enum.map_join(repos(), ", ", &inspect/1)}"
    end

    with_repo(repo, &run(&1, :down, to: version))
  end

  @doc """
  Prints each migration as up or down, and applied versions that have no
  file, in the layout of `mix ecto.migrations`; returns the same list.
  """
  @spec status() :: [{:up | :down, Demo.Migrator.version(), String.t()}]
  def status do
    load_app()

    for repo <- repos() do
      rows = with_repo(repo, &ok!(Demo.Migrator.status(&1, migrations_path())))
      IO.puts(format_status(repo, rows))
      rows
    end
    |> Enum.concat()
  end

  @doc "Renders a status list as `mix ecto.migrations` does."
  @spec format_status(atom(), [{:up | :down, Demo.Migrator.version(), String.t()}]) :: String.t()
  def format_status(repo, rows) do
    lines =
      for {state, version, name} <- rows do
        "  #{String.pad_trailing(Atom.to_string(state), 10)}#{String.pad_trailing(Integer.to_string(version), 16)}#{name}"
      end

    Enum.join(
      [
        "",
        "Repo: #{inspect(repo)}",
        "",
        "  Status    Migration ID    Migration Name",
        String.duplicate("-", 50) | lines
      ],
      "\n"
    ) <> "\n"
  end

  @doc "Where the migration files are inside the release (or the project, under Mix)."
  @spec migrations_path() :: Path.t()
  def migrations_path, do: Application.app_dir(@app, "priv/repo/migrations")

  @spec run(Demo.PG.t(), Demo.Migrator.direction(), Demo.Migrator.strategy()) ::
          [Demo.Migrator.version()]
  defp run(conn, direction, strategy) do
    versions = ok!(Demo.Migrator.run(conn, migrations_path(), direction, strategy))
    verb = if direction == :up, do: "Migrated", else: "Rolled back"

    if versions == [],
      do: IO.puts("Migrations already #{direction}"),
      else: Enum.each(versions, &IO.puts("#{verb} #{&1}"))

    versions
  end

  # Opens one connection for the whole task, like Ecto.Migrator.with_repo/2.
  # `:migration_default_prefix` (a schema name) works as the Ecto repo option
  # of that name: the migrations and schema_migrations live in that schema.
  @spec with_repo(atom(), (Demo.PG.t() -> result)) :: result when result: var
  defp with_repo(_repo, fun) do
    conn =
      case Demo.PG.connect(Demo.database_url()) do
        {:ok, conn} ->
          conn

        # The URL holds the password, so only the reason is shown.
        {:error, reason} ->
          raise "cannot connect to the database at DATABASE_URL (#{inspect(reason)}): " <>
                  "check that it names a running Postgres and the right user, password and database"
      end

    try do
      if prefix = Application.get_env(@app, :migration_default_prefix) do
        ok!(
          Demo.PG.query(conn, ~s(SET search_path TO "#{String.replace(prefix, ~s("), ~s(""))}"))
        )
      end

      fun.(conn)
    after
      Demo.PG.close(conn)
    end
  end

  @spec ok!({:ok, value} | {:error, term()}) :: value when value: var
  defp ok!({:ok, value}), do: value

  defp ok!({:error, {:migration, version, name, reason}}),
    do: raise("migration #{version} (#{name}) failed and was rolled back: #{inspect(reason)}")

  defp ok!({:error, reason}), do: raise("database error: #{inspect(reason)}")

  defp repos, do: Application.fetch_env!(@app, :ecto_repos)

  # The generator also starts :ssl here; Demo.PG has no TLS, so :crypto (for
  # SCRAM and md5 passwords) is all it needs.
  defp load_app do
    {:ok, _} = Application.ensure_all_started(:crypto)
    Application.ensure_loaded(@app)
  end
end
