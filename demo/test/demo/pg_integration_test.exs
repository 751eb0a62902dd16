# Integration tests: a real SQL round trip through Demo.PG against the DATABASE_URL database.
defmodule Demo.PGIntegrationTest do
  use Demo.Case, async: true
  @moduletag :integration

  alias Demo.PG

  setup do
    {:ok, conn} = PG.connect(database_url!())
    on_exit(fn -> PG.close(conn) end)
    %{conn: conn}
  end

  test "creates, fills and reads back a table of its own", %{conn: conn} do
    table = unique_name("demo_items")

    assert {:ok, %{command: "CREATE TABLE"}} =
             PG.query(conn, "CREATE TABLE #{table} (id int, name text)")

    # The test's own connection is closed by then, so drop with a fresh one.
    on_exit(fn ->
      {:ok, cleanup} = PG.connect(database_url!())
      {:ok, _} = PG.query(cleanup, "DROP TABLE IF EXISTS #{table}")
      PG.close(cleanup)
    end)

    assert {:ok, %{command: "INSERT 0 3"}} =
             PG.query(conn, "INSERT INTO #{table} VALUES (1, 'tea'), (2, NULL), (3, 'it''s')")

    assert {:ok, %{columns: ["id", "name"], rows: rows}} =
             PG.query(conn, "SELECT id, name FROM #{table} ORDER BY id")

    assert rows == [["1", "tea"], ["2", nil], ["3", "it's"]]
  end

  test "reports which database it reached", %{conn: conn} do
    {:ok, %{rows: [[name]]}} = PG.query(conn, "SELECT current_database()")
    assert {:ok, %{database: ^name}} = PG.parse_url(database_url!())
    assert record_database!() == name
  end

  test "returns server errors and stays usable", %{conn: conn} do
    assert {:error, {:server, %{code: "42P01", severity: "ERROR"}}} =
             PG.query(conn, "SELECT * FROM no_such_table_here")

    assert {:ok, %{rows: [["2"]]}} = PG.query(conn, "SELECT 1 + 1")
  end

  test "returns the last result of several statements", %{conn: conn} do
    assert {:ok, %{command: "SELECT 2", rows: [["a"], ["b"]]}} =
             PG.query(conn, "SELECT 1; SELECT * FROM (VALUES ('a'), ('b')) AS t(x)")

    assert {:ok, %{command: nil, rows: []}} = PG.query(conn, "")
  end

  test "fails authentication with a wrong password" do
    {:ok, config} = PG.parse_url(database_url!())

    # Under trust auth any password is accepted, so there is nothing to check.
    case PG.connect(%{config | password: "definitely-wrong"}) do
      {:ok, conn} -> PG.close(conn)
      {:error, reason} -> assert {:server, %{code: "28P01"}} = reason
    end
  end
end
