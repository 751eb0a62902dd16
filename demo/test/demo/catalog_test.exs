# Unit tests for the money math in Demo.Catalog.
defmodule Demo.CatalogTest do
  use Demo.Case, async: true
  @moduletag :unit

  alias Demo.Catalog

  doctest Catalog

  setup do
    {:ok, tea} = Catalog.new_product("TEA-1", "Green Tea", 450)
    {:ok, pot} = Catalog.new_product("POT-1", "Crème Teapot", 2_999)
    %{tea: tea, pot: pot}
  end

  test "new_product/3 slugs the name and rejects bad input" do
    assert {:ok, %Catalog.Product{slug: "creme-teapot"}} =
             Catalog.new_product("P", "Crème Teapot", 1)

    assert {:error, "sku can't be blank"} = Catalog.new_product(" ", "X", 1)
    assert {:error, "price must not be negative"} = Catalog.new_product("P", "X", -1)
  end

  test "checkout/2 discounts before tax and never loses a cent", %{tea: tea, pot: pot} do
    lines = [{tea, 3}, {pot, 1}]
    assert Catalog.subtotal(lines) == 4_349

    assert Catalog.checkout(lines, discount_bp: 1_000, tax_bp: 2_000) == %{
             subtotal: 4_349,
             discount: 435,
             tax: 783,
             total: 4_697
           }
  end

  test "tax/2 rounds half away from zero" do
    assert Catalog.tax(5, 1_000) == 1
    assert Catalog.tax(4, 1_000) == 0
    assert Catalog.tax(-5, 1_000) == -1
  end

  test "split/2 shares add up to the whole" do
    for amount <- [0, 1, 99, 1_000, 123_457], parts <- 1..7 do
      shares = Catalog.split(amount, parts)
      assert Enum.sum(shares) == amount
      assert Enum.max(shares) - Enum.min(shares) <= 1
    end
  end

  test "format/2 groups thousands and keeps the sign" do
    assert Catalog.format(123_456_789) == "$1,234,567.89"
    assert Catalog.format(-5) == "-$0.05"
    assert Catalog.format(100, "€") == "€1.00"
  end

  test "parse/1 reads what format/2 writes, and nothing else" do
    for amount <- [0, 7, 1_050, 123_456_789, -250] do
      assert Catalog.parse(String.replace(Catalog.format(amount), "$", "")) == {:ok, amount}
    end

    assert Catalog.parse("12") == {:ok, 1_200}
    assert Catalog.parse("12.5") == {:ok, 1_250}
    assert Catalog.parse("1,23.00") == :error
    assert Catalog.parse("1.234") == :error
    assert Catalog.parse("abc") == :error
  end
end
