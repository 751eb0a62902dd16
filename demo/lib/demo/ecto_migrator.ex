# Ecto.Migrator's API for release tooling (with_repo/3, run/4, migrations_path/1), over Demo.Migrator.
defmodule Demo.EctoMigrator do
  @moduledoc """
  DEMO CODE: the part of `Ecto.Migrator`'s API that release tooling calls,
  over `Demo.Migrator`, so that a tool written against Ecto drives the demo
  unchanged (`cargo xtask migrate check` runs its one-boot session through
  it, with `[migrate] migrator = "Demo.EctoMigrator"`):

      {:ok, versions, _apps} =
        Demo.EctoMigrator.with_repo(Demo.Repo, &Demo.EctoMigrator.run(&1, path, :up, all: true))

    * `with_repo/3` opens the repo's one connection (`DATABASE_URL`) for the
      duration of the function, as Ecto's starts the repo, and returns
      `{:ok, result, apps}` or `{:error, reason}`.
    * `run/4` takes the same strategies as Ecto's (`all: true`, `to:
      version`), returns the versions it ran, and raises when a migration
      fails (its transaction rolled back), as Ecto's does.
  """

  @doc "Opens `repo` for `fun`, like `Ecto.Migrator.with_repo/3`."
  @spec with_repo(atom(), (atom() -> result), keyword()) ::
          {:ok, result, [atom()]} | {:error, term()}
        when result: var
  def with_repo(repo, fun, _opts \\ []) do
    {:ok, apps} = Application.ensure_all_started(:crypto)

    case Demo.PG.connect(Demo.database_url()) do
      {:ok, conn} ->
        Process.put({__MODULE__, repo}, conn)

        try do
          {:ok, fun.(repo), apps}
        after
          Process.delete({__MODULE__, repo})
          Demo.PG.close(conn)
        end

      {:error, reason} ->
        {:error, reason}
    end
  end

  @doc "The migrations directory, like `Ecto.Migrator.migrations_path/1`."
  @spec migrations_path(atom()) :: Path.t()
  def migrations_path(_repo), do: Demo.Release.migrations_path()

  @doc "Runs the migrations in `dir` in `direction`, like `Ecto.Migrator.run/4`."
  @spec run(atom(), Path.t(), Demo.Migrator.direction(), keyword()) :: [Demo.Migrator.version()]
  def run(repo, dir, direction, opts) do
    conn =
      Process.get({__MODULE__, repo}) ||
        raise ArgumentError, "#{inspect(repo)} is not open: call run/4 inside with_repo/3"

    strategy = if opts[:all], do: [all: true], else: [to: Keyword.fetch!(opts, :to)]

    case Demo.Migrator.run(conn, dir, direction, strategy) do
      {:ok, versions} ->
        versions

      {:error, {:migration, version, name, reason}} ->
        raise "migration #{version} (#{name}) failed and was rolled back: #{inspect(reason)}"

      {:error, reason} ->
        raise "database error: #{inspect(reason)}"
    end
  end
end
