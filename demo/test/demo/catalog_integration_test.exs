# Integration tests: the database agrees with Demo.Catalog's money math.
defmodule Demo.CatalogIntegrationTest do
  use Demo.Case, async: true
  @moduletag :integration

  alias Demo.Catalog
  alias Demo.PG

  test "SQL sums the same cents as subtotal/1" do
    {:ok, conn} = PG.connect(database_url!())
    table = unique_name("demo_lines")

    {:ok, tea} = Catalog.new_product("TEA", "Tea", 450)
    {:ok, pot} = Catalog.new_product("POT", "Pot", 2_999)
    lines = [{tea, 3}, {pot, 2}]

    values =
      Enum.map_join(lines, ", ", fn {product, qty} ->
        "('#{product.sku}', #{product.price}, #{qty})"
      end)

    # A temporary table disappears with the connection, so nothing leaks
    # into the partition's database if the test fails halfway.
    {:ok, _} = PG.query(conn, "CREATE TEMP TABLE #{table} (sku text, price int, qty int)")
    {:ok, _} = PG.query(conn, "INSERT INTO #{table} VALUES #{values}")
    {:ok, %{rows: [[total]]}} = PG.query(conn, "SELECT sum(price * qty) FROM #{table}")
    PG.close(conn)

    assert String.to_integer(total) == Catalog.subtotal(lines)
  end
end
