# The case template every test module uses; it records which database each test partition reached.
defmodule Demo.Case do
  @moduledoc """
  Shared setup for all demo tests.

  phx-xtask gives each `mix test --partitions` run its own database and checks
  afterwards that the partitions really used different ones. ExUnit splits a
  suite by module, so every module (unit ones too) records the database it
  reaches in `setup_all`; that way each partition records as long as it runs
  any module at all.
  """

  use ExUnit.CaseTemplate

  using do
    quote do
      import Demo.Case,
        only: [database_url!: 0, redis_url!: 0, unique_name: 1, record_database!: 0]
    end
  end

  setup_all do
    if System.get_env("DATABASE_URL"), do: record_database!()
    :ok
  end

  @doc "The DATABASE_URL the CI tool set for this partition."
  @spec database_url!() :: String.t()
  def database_url!, do: System.fetch_env!("DATABASE_URL")

  @doc "The REDIS_URL the CI tool set."
  @spec redis_url!() :: String.t()
  def redis_url!, do: System.fetch_env!("REDIS_URL")

  @doc """
  A name no other test, run, or partition uses at the same time, for tables and keys.

  The OS pid separates concurrent `mix test` processes sharing one server.
  """
  @spec unique_name(String.t()) :: String.t()
  def unique_name(prefix) do
    "#{prefix}_#{System.pid()}_#{System.unique_integer([:positive])}"
  end

  @doc """
  Asks the server for `current_database()` and writes it to
  `tmp/db_hits/partition-N.txt`, returning the name.
  """
  @spec record_database!() :: String.t()
  def record_database! do
    {:ok, conn} = Demo.PG.connect(database_url!())
    {:ok, %{rows: [[name]]}} = Demo.PG.query(conn, "SELECT current_database()")
    :ok = Demo.PG.close(conn)

    partition = System.get_env("MIX_TEST_PARTITION", "0")
    path = Path.join(db_hits_dir(), "partition-#{partition}.txt")
    File.mkdir_p!(db_hits_dir())
    # Modules run concurrently, so write a private file and rename it into
    # place: a reader never sees a half-written name.
    scratch = "#{path}.#{unique_name("tmp")}"
    File.write!(scratch, name)
    File.rename!(scratch, path)
    name
  end

  # Relative to this file rather than the cwd, so the hits land in the app's
  # tmp/ however the suite is started.
  @spec db_hits_dir() :: Path.t()
  defp db_hits_dir, do: Path.expand("../../tmp/db_hits", __DIR__)
end
