# Runs the SQL migrations in priv/repo/migrations over Demo.PG, keeping Ecto's schema_migrations table.
defmodule Demo.Migrator do
  @moduledoc """
  DEMO CODE: a tiny stand-in for `Ecto.Migrator`, over `Demo.PG`.

  The demo has no Ecto, but its database must look to the rest of the world
  (and to a later switch to Ecto) exactly like an Ecto app's:

    * Files are found the way `Ecto.Migrator` finds them: every
      `<version>_<name>.exs` under the migrations directory, where the version
      is the integer prefix (`mix ecto.gen.migration` writes 14 digits,
      `yyyymmddhhmmss`), sorted by version.
    * Applied versions live in the table `Ecto.Migration.SchemaMigration`
      creates, with the same DDL ecto_sql's Postgres adapter generates for it:
      `"version" bigint` as the primary key and `"inserted_at" timestamp(0)`
      (without time zone, in UTC).
    * Each migration runs in its own transaction, together with its
      `schema_migrations` row, under `LOCK TABLE "schema_migrations" IN SHARE
      UPDATE EXCLUSIVE MODE` as ecto_sql takes it on Postgres: two migrators
      started at once (two containers running `bin/migrate`) take turns, and
      the second sees the first one's versions and skips them.

  A migration file is a plain Elixir module whose `up/0` and `down/0` return
  the SQL to run, as one string or a list of statements:

      defmodule Demo.Repo.Migrations.CreateProducts do
        def up, do: ["CREATE TABLE products (id bigserial PRIMARY KEY)"]
        def down, do: ["DROP TABLE products"]
      end
  """

  alias Demo.PG

  @typedoc "A migration file: version, name (the file name after the version) and path."
  @type migration :: {version(), String.t(), Path.t()}
  @type version :: non_neg_integer()
  @type direction :: :up | :down
  @typedoc "`all: true` or `to: version`, with `Ecto.Migrator.run/4`'s meaning."
  @type strategy :: [all: true] | [to: version()]
  @type error :: {:migration, version(), String.t(), term()} | PG.error() | String.t()

  @table ~s("schema_migrations")

  # The DDL ecto_sql's Postgres adapter generates for Ecto.Migration.SchemaMigration:
  # {:add, :version, :bigint, primary_key: true} and {:add, :inserted_at, :naive_datetime, []}.
  @create_table ~s[CREATE TABLE IF NOT EXISTS #{@table} ] <>
                  ~s[("version" bigint, "inserted_at" timestamp(0), PRIMARY KEY ("version"))]

  @doc """
  Lists the migration files in `dir`, sorted by version, as `Ecto.Migrator`
  does: files in subdirectories count too, and anything that is not
  `<integer>_<name>.exs` is ignored.
  """
  @spec migrations_in(Path.t()) :: [migration()]
  def migrations_in(dir) do
    [dir, "**", "*.exs"]
    |> Path.join()
    |> Path.wildcard()
    |> Enum.flat_map(fn file ->
      case Integer.parse(Path.rootname(Path.basename(file))) do
        {version, "_" <> name} when version >= 0 -> [{version, name, file}]
        _ -> []
      end
    end)
    |> Enum.sort()
  end

  @doc "Creates `schema_migrations` if needed and returns the applied versions, in order."
  @spec versions(PG.t()) :: {:ok, [version()]} | {:error, error()}
  def versions(conn) do
    with :ok <- create_table(conn), do: applied_versions(conn)
  end

  # Two migrators starting at once can both pass CREATE TABLE IF NOT EXISTS's
  # check, and then the second fails on Postgres's catalog: the table exists
  # by then, which is all that was asked.
  @spec create_table(PG.t()) :: :ok | {:error, error()}
  defp create_table(conn) do
    case PG.query(conn, @create_table) do
      {:ok, _} -> :ok
      {:error, {:server, %{code: code}}} when code in ["23505", "42P07", "42710"] -> :ok
      {:error, _} = error -> error
    end
  end

  @spec applied_versions(PG.t()) :: {:ok, [version()]} | {:error, error()}
  defp applied_versions(conn) do
    with {:ok, %{rows: rows}} <- PG.query(conn, "SELECT version FROM #{@table} ORDER BY version") do
      {:ok, Enum.map(rows, fn [version] -> String.to_integer(version) end)}
    end
  end

  @doc """
  Each migration file as `:up` or `:down`, plus the applied versions that have
  no file, like `Ecto.Migrator.migrations/2` (and so `mix ecto.migrations`).
  """
  @spec status(PG.t(), Path.t()) ::
          {:ok, [{:up | :down, version(), String.t()}]} | {:error, error()}
  def status(conn, dir) do
    with {:ok, applied} <- versions(conn) do
      files = migrations_in(dir)
      with_file = for {version, name, _} <- files, do: {state(version, applied), version, name}
      known = MapSet.new(files, fn {version, _, _} -> version end)
      orphans = for v <- applied, v not in known, do: {:up, v, "** FILE NOT FOUND **"}
      {:ok, Enum.sort_by(with_file ++ orphans, fn {_, version, _} -> version end)}
    end
  end

  @spec state(version(), [version()]) :: :up | :down
  defp state(version, applied), do: if(version in applied, do: :up, else: :down)

  @doc """
  Runs migrations from `dir` and returns the versions it ran, in the order it ran them.

    * `:up, all: true` applies every pending migration, oldest first; run again,
      it finds none and returns `[]`.
    * `:down, to: version` rolls back every applied migration whose version is
      `version` or newer, newest first: the target itself is rolled back too,
      as with `Ecto.Migrator.run(repo, :down, to: version)`. Applied versions
      without a file cannot be rolled back and are left alone, as Ecto does.

  It stops at the first failing migration, whose transaction is rolled back,
  and returns `{:error, {:migration, version, name, reason}}`; the ones before
  it stay applied.
  """
  @spec run(PG.t(), Path.t(), direction(), strategy()) :: {:ok, [version()]} | {:error, error()}
  def run(conn, dir, direction, strategy) do
    with {:ok, applied} <- versions(conn) do
      pending = pending(migrations_in(dir), applied, direction, strategy)
      warn_out_of_order(pending, applied, direction)
      migrate(conn, pending, direction, [])
    end
  end

  # The selection of Ecto.Migrator's pending_all/pending_to: pending in the
  # direction's order, then (for :to) taken while within the target.
  @spec pending([migration()], [version()], direction(), strategy()) :: [migration()]
  defp pending(files, applied, :up, all: true), do: Enum.reject(files, &applied?(&1, applied))

  defp pending(files, applied, :up, to: target),
    do: files |> pending(applied, :up, all: true) |> Enum.take_while(&(elem(&1, 0) <= target))

  defp pending(files, applied, :down, all: true),
    do: files |> Enum.filter(&applied?(&1, applied)) |> Enum.reverse()

  defp pending(files, applied, :down, to: target),
    do: files |> pending(applied, :down, all: true) |> Enum.take_while(&(elem(&1, 0) >= target))

  @spec applied?(migration(), [version()]) :: boolean()
  defp applied?({version, _, _}, applied), do: version in applied

  # Ecto warns in the same case: a deploy that applies an old version after a
  # newer one has been rolled out means a later rollback undoes the wrong one.
  @spec warn_out_of_order([migration()], [version()], direction()) :: :ok
  defp warn_out_of_order([{version, name, _} | _], [_ | _] = applied, :up) do
    latest = List.last(applied)

    if version < latest do
      IO.warn(
        "migration #{version} (#{name}) runs after #{latest}, which is newer and already applied; " <>
          "a rollback to #{latest} would not undo it. Give it a version after #{latest}.",
        []
      )
    end

    :ok
  end

  defp warn_out_of_order(_pending, _applied, _direction), do: :ok

  @spec migrate(PG.t(), [migration()], direction(), [version()]) ::
          {:ok, [version()]} | {:error, error()}
  defp migrate(_conn, [], _direction, done), do: {:ok, Enum.reverse(done)}

  defp migrate(conn, [{version, name, file} | rest], direction, done) do
    case migrate_one(conn, version, file, direction) do
      :ok -> migrate(conn, rest, direction, [version | done])
      :skipped -> migrate(conn, rest, direction, done)
      {:error, reason} -> {:error, {:migration, version, name, reason}}
    end
  end

  # One transaction: lock, re-read the versions (another migrator may have
  # run this one while we waited for the lock), run the statements, record.
  @spec migrate_one(PG.t(), version(), Path.t(), direction()) :: :ok | :skipped | {:error, term()}
  defp migrate_one(conn, version, file, direction) do
    with {:ok, statements} <- load(file, direction),
         {:ok, _} <- PG.query(conn, "BEGIN") do
      result =
        with {:ok, _} <- PG.query(conn, "LOCK TABLE #{@table} IN SHARE UPDATE EXCLUSIVE MODE"),
             {:ok, applied} <- applied_versions(conn) do
          if version in applied == (direction == :up),
            do: :skipped,
            else: run_statements(conn, statements ++ [record(version, direction)])
        end

      finish(conn, result)
    end
  end

  @spec finish(PG.t(), :ok | :skipped | {:error, term()}) :: :ok | :skipped | {:error, term()}
  defp finish(conn, :ok) do
    case PG.query(conn, "COMMIT") do
      {:ok, _} -> :ok
      {:error, _} = error -> error
    end
  end

  defp finish(conn, other) do
    _ = PG.query(conn, "ROLLBACK")
    other
  end

  @spec record(version(), direction()) :: String.t()
  defp record(version, :up) do
    # Ecto writes NaiveDateTime.utc_now() truncated to the second.
    "INSERT INTO #{@table} (version, inserted_at) " <>
      "VALUES (#{version}, (now() AT TIME ZONE 'UTC')::timestamp(0))"
  end

  defp record(version, :down), do: "DELETE FROM #{@table} WHERE version = #{version}"

  @spec run_statements(PG.t(), [String.t()]) :: :ok | {:error, term()}
  defp run_statements(conn, statements) do
    Enum.reduce_while(statements, :ok, fn sql, :ok ->
      case PG.query(conn, sql) do
        {:ok, _} -> {:cont, :ok}
        {:error, reason} -> {:halt, {:error, reason}}
      end
    end)
  end

  @doc """
  Compiles a migration file and returns the SQL of its `up/0` or `down/0`.

  Loading the same file twice (status, then migrate, in one VM) redefines its
  module, which is expected here, so that warning is silenced. The compiler
  option is global and a module cannot be defined by two processes at once,
  so loads in one VM take turns under a lock.
  """
  @spec load(Path.t(), direction()) :: {:ok, [String.t()]} | {:error, String.t()}
  def load(file, direction) do
    modules = :global.trans({{__MODULE__, :load}, self()}, fn -> compile(file) end, [node()])

    case for({module, _} <- modules, function_exported?(module, direction, 0), do: module) do
      [module] -> statements(module, direction, file)
      _ -> {:error, "#{file} defines no module with a #{direction}/0 function"}
    end
  end

  @spec compile(Path.t()) :: [{module(), binary()}]
  defp compile(file) do
    previous = Code.get_compiler_option(:ignore_module_conflict)
    Code.put_compiler_option(:ignore_module_conflict, true)

    try do
      Code.compile_file(file)
    after
      Code.put_compiler_option(:ignore_module_conflict, previous)
    end
  end

  @spec statements(module(), direction(), Path.t()) :: {:ok, [String.t()]} | {:error, String.t()}
  defp statements(module, direction, file) do
    case apply(module, direction, []) do
      sql when is_binary(sql) ->
        {:ok, [sql]}

      [_ | _] = list ->
        if Enum.all?(list, &is_binary/1),
          do: {:ok, list},
          else: {:error, "#{file}: #{direction}/0 must return SQL strings"}

      _ ->
        {:error, "#{file}: #{direction}/0 must return a SQL string or a non-empty list of them"}
    end
  end
end
