# Integration tests: Demo.Release and Demo.Migrator against a real Postgres, each run in a schema of its own.
defmodule Demo.ReleaseIntegrationTest do
  # Not async: the tests point Demo.Release at their schema through the app env.
  use Demo.Case, async: false
  @moduletag :integration
  @moduletag :tmp_dir

  import ExUnit.CaptureIO

  alias Demo.{Migrator, PG, Release}

  @first 20_250_301_120_000
  @second 20_250_301_120_100
  @third 20_250_301_120_200

  # A schema per test keeps schema_migrations and products away from other
  # tests and from other `mix test` processes sharing the database.
  setup do
    schema = unique_name("release")
    {:ok, conn} = PG.connect(database_url!())
    {:ok, _} = PG.query(conn, ~s(CREATE SCHEMA "#{schema}"))
    {:ok, _} = PG.query(conn, ~s(SET search_path TO "#{schema}"))
    Application.put_env(:demo, :migration_default_prefix, schema)

    on_exit(fn ->
      Application.delete_env(:demo, :migration_default_prefix)
      {:ok, cleanup} = PG.connect(database_url!())
      {:ok, _} = PG.query(cleanup, ~s(DROP SCHEMA "#{schema}" CASCADE))
      PG.close(cleanup)
    end)

    %{conn: conn, schema: schema}
  end

  defp rows(conn, sql) do
    {:ok, %{rows: rows}} = PG.query(conn, sql)
    rows
  end

  test "migrate applies every migration once and is idempotent", %{conn: conn} do
    output = capture_io(fn -> assert Release.migrate() == [@first, @second, @third] end)
    assert output =~ "Migrated #{@first}\nMigrated #{@second}\nMigrated #{@third}\n"

    assert rows(conn, "SELECT version FROM schema_migrations ORDER BY version") ==
             [["#{@first}"], ["#{@second}"], ["#{@third}"]]

    {:ok, _} =
      PG.query(conn, "INSERT INTO products (sku, name, price_cents) VALUES ('T', 'Tea', 450)")

    assert {:error, {:server, %{code: "23505"}}} =
             PG.query(
               conn,
               "INSERT INTO products (sku, name, price_cents) VALUES ('T', 'Tea', 1)"
             )

    assert capture_io(fn -> assert Release.migrate() == [] end) =~ "Migrations already up"
  end

  test "migrate_to(v) applies the pending migrations up to v, like Ecto's :up, to: v",
       %{conn: conn} do
    output = capture_io(fn -> assert Release.migrate_to(@second) == [@first, @second] end)
    assert output == "Migrated #{@first}\nMigrated #{@second}\n"

    assert rows(conn, "SELECT version FROM schema_migrations ORDER BY version") ==
             [["#{@first}"], ["#{@second}"]]

    assert capture_io(fn -> assert Release.migrate_to(@second) == [] end) =~
             "Migrations already up"

    # After a rollback of the newest, migrate_to brings exactly it back.
    capture_io(fn -> Release.migrate() end)
    capture_io(fn -> Release.rollback(Demo.Repo, @third) end)
    assert capture_io(fn -> assert Release.migrate_to(@third) == [@third] end) =~ "Migrated"
  end

  test "schema_migrations has Ecto's exact shape", %{conn: conn, schema: schema} do
    capture_io(fn -> Release.migrate() end)

    assert rows(conn, """
           SELECT column_name, data_type, datetime_precision, is_nullable
           FROM information_schema.columns
           WHERE table_schema = '#{schema}' AND table_name = 'schema_migrations'
           ORDER BY ordinal_position
           """) == [
             ["version", "bigint", nil, "NO"],
             ["inserted_at", "timestamp without time zone", "0", "YES"]
           ]

    assert rows(conn, """
           SELECT a.attname FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = '"#{schema}".schema_migrations'::regclass AND i.indisprimary
           """) == [["version"]]

    # inserted_at is UTC now, to the second, as Ecto writes it.
    assert [["t"]] =
             rows(conn, """
             SELECT bool_and(abs(extract(epoch FROM (now() AT TIME ZONE 'UTC') - inserted_at)) < 60)
             FROM schema_migrations
             """)
  end

  test "rollback(repo, v) rolls back v and everything newer, like Ecto's :down, to: v",
       %{conn: conn, schema: schema} do
    capture_io(fn -> Release.migrate() end)

    output =
      capture_io(fn -> assert Release.rollback(Demo.Repo, @second) == [@third, @second] end)

    assert output == "Rolled back #{@third}\nRolled back #{@second}\n"
    assert rows(conn, "SELECT version FROM schema_migrations") == [["#{@first}"]]

    assert rows(
             conn,
             "SELECT count(*) FROM pg_indexes WHERE schemaname = '#{schema}' AND indexname = 'products_sku_index'"
           ) ==
             [["0"]]

    assert capture_io(fn -> assert Release.rollback(Demo.Repo, @third) == [] end) =~
             "Migrations already down"

    capture_io(fn -> assert Release.rollback(Demo.Repo, @first) == [@first] end)
    assert rows(conn, "SELECT to_regclass('products') IS NULL") == [["t"]]

    assert_raise ArgumentError, ~r/unknown repo Demo.Other: this app's is Demo.Repo/, fn ->
      Release.rollback(Demo.Other, @first)
    end
  end

  test "status shows up, down and versions without a file", %{conn: conn} do
    capture_io(fn -> Release.rollback(Demo.Repo, @first) end)
    capture_io(fn -> Migrator.run(conn, Release.migrations_path(), :up, to: @first) end)
    {:ok, _} = PG.query(conn, "INSERT INTO schema_migrations VALUES (20990101000000, now())")

    output = capture_io(fn -> send(self(), {:rows, Release.status()}) end)
    assert_received {:rows, rows}

    assert rows == [
             {:up, @first, "create_products"},
             {:down, @second, "add_products_sku_index"},
             {:down, @third, "add_products_slug"},
             {:up, 20_990_101_000_000, "** FILE NOT FOUND **"}
           ]

    assert output =~ "  up        20990101000000  ** FILE NOT FOUND **\n"
  end

  test "a failing migration is rolled back whole and the error names it",
       %{conn: conn, tmp_dir: dir} do
    File.write!(Path.join(dir, "1_good.exs"), """
    defmodule Demo.ReleaseIntegrationTest.Good do
      def up, do: "CREATE TABLE good (id int)"
      def down, do: "DROP TABLE good"
    end
    """)

    File.write!(Path.join(dir, "2_broken.exs"), """
    defmodule Demo.ReleaseIntegrationTest.Broken do
      def up, do: ["CREATE TABLE half (id int)", "SELECT * FROM no_such_table"]
      def down, do: "DROP TABLE half"
    end
    """)

    assert {:error, {:migration, 2, "broken", {:server, %{code: "42P01"}}}} =
             Migrator.run(conn, dir, :up, all: true)

    # The good one stays; the broken one left neither its table nor its version.
    assert rows(conn, "SELECT version FROM schema_migrations") == [["1"]]

    assert rows(conn, "SELECT to_regclass('half') IS NULL, to_regclass('good') IS NULL") == [
             ["t", "f"]
           ]

    assert {:ok, [1]} = Migrator.run(conn, dir, :down, all: true)
  end

  test "a second migrator waits for the first and skips what it applied", %{schema: schema} do
    # Two connections at once, as two containers running bin/migrate would be.
    tasks =
      for _ <- 1..2 do
        Task.async(fn ->
          {:ok, conn} = PG.connect(database_url!())
          {:ok, _} = PG.query(conn, ~s(SET search_path TO "#{schema}"))
          result = Migrator.run(conn, Release.migrations_path(), :up, all: true)
          PG.close(conn)
          result
        end)
      end

    results = tasks |> Task.await_many(30_000) |> Enum.map(fn {:ok, versions} -> versions end)
    assert Enum.sort(Enum.concat(results)) == [@first, @second, @third]
  end

  test "a database that cannot be reached raises with the fix, not the URL" do
    previous = Application.fetch_env!(:demo, :database_url)
    Application.put_env(:demo, :database_url, "postgres://u:secret@127.0.0.1:1/db")
    on_exit(fn -> Application.put_env(:demo, :database_url, previous) end)

    error = assert_raise RuntimeError, fn -> Release.migrate() end
    assert error.message =~ "cannot connect to the database at DATABASE_URL (:econnrefused)"
    refute error.message =~ "secret"
  end
end
