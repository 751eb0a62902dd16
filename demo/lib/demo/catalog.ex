# Products, carts and money math in integer cents: the demo's business logic.
defmodule Demo.Catalog do
  @moduledoc """
  A small product catalog with prices in integer cents.

  Money is never a float here: floats cannot represent most cent values
  exactly, so totals would drift. Every rounding step is explicit and rounds
  half away from zero, the way a till does.
  """

  alias Demo.Slug

  defmodule Product do
    @moduledoc "A product that can be put in a cart."

    @enforce_keys [:sku, :name, :slug, :price]
    defstruct [:sku, :name, :slug, :price]

    @type t :: %__MODULE__{
            sku: String.t(),
            name: String.t(),
            slug: String.t(),
            price: Demo.Catalog.cents()
          }
  end

  @typedoc "An amount of money in cents."
  @type cents :: integer()

  @typedoc "A cart line: a product and how many of it."
  @type line :: {Product.t(), pos_integer()}

  @typedoc "A rate in basis points: 1 bp is 0.01 %, so 2000 is 20 %."
  @type basis_points :: non_neg_integer()

  @doc "Builds a product, checking that the SKU is present and the price is not negative."
  @spec new_product(String.t(), String.t(), cents()) :: {:ok, Product.t()} | {:error, String.t()}
  def new_product(sku, name, price)
      when is_binary(sku) and is_binary(name) and is_integer(price) do
    cond do
      String.trim(sku) == "" -> {:error, "sku can't be blank"}
      price < 0 -> {:error, "price must not be negative"}
      true -> {:ok, %Product{sku: sku, name: name, slug: Slug.slugify(name), price: price}}
    end
  end

  @doc "Returns the price of `quantity` units of a product."
  @spec line_total(line()) :: cents()
  def line_total({%Product{price: price}, quantity}) when is_integer(quantity) and quantity > 0 do
    price * quantity
  end

  @doc "Sums the line totals of a cart."
  @spec subtotal([line()]) :: cents()
  def subtotal(lines), do: lines |> Enum.map(&line_total/1) |> Enum.sum()

  @doc """
  Applies a discount given in basis points and returns the discounted amount.

      iex> Demo.Catalog.apply_discount(999, 1000)
      899
  """
  @spec apply_discount(cents(), basis_points()) :: cents()
  def apply_discount(amount, bp) when is_integer(amount) and bp in 0..10_000 do
    amount - percent_of(amount, bp)
  end

  @doc "Returns the tax owed on an amount at a rate in basis points."
  @spec tax(cents(), basis_points()) :: cents()
  def tax(amount, bp) when is_integer(amount) and is_integer(bp) and bp >= 0 do
    percent_of(amount, bp)
  end

  @doc """
  Totals a cart: subtotal, then the discount, then tax on the discounted amount.
  """
  @spec checkout([line()], keyword()) :: %{
          subtotal: cents(),
          discount: cents(),
          tax: cents(),
          total: cents()
        }
  def checkout(lines, opts \\ []) do
    subtotal = subtotal(lines)
    discounted = apply_discount(subtotal, Keyword.get(opts, :discount_bp, 0))
    tax = tax(discounted, Keyword.get(opts, :tax_bp, 0))

    %{
      subtotal: subtotal,
      discount: subtotal - discounted,
      tax: tax,
      total: discounted + tax
    }
  end

  @doc """
  Splits an amount into `parts` shares that differ by at most one cent and add
  up to the amount exactly, so no cent is lost when a bill is split.

      iex> Demo.Catalog.split(1000, 3)
      [334, 333, 333]
  """
  @spec split(cents(), pos_integer()) :: [cents()]
  def split(amount, parts) when is_integer(amount) and amount >= 0 and parts > 0 do
    share = div(amount, parts)
    extra = rem(amount, parts)
    for i <- 1..parts, do: if(i <= extra, do: share + 1, else: share)
  end

  @doc """
  Formats cents as a price such as `"$1,234.50"` or `"-$0.05"`.
  """
  @spec format(cents(), String.t()) :: String.t()
  def format(amount, symbol \\ "$") when is_integer(amount) do
    sign = if amount < 0, do: "-", else: ""
    abs = abs(amount)
    units = abs |> div(100) |> Integer.to_string() |> group_thousands()
    cents = abs |> rem(100) |> Integer.to_string() |> String.pad_leading(2, "0")
    "#{sign}#{symbol}#{units}.#{cents}"
  end

  @doc """
  Parses a decimal price such as `"12.5"` or `"1,234.56"` into cents.

      iex> Demo.Catalog.parse("1,234.5")
      {:ok, 123450}
  """
  @spec parse(String.t()) :: {:ok, cents()} | :error
  def parse(text) when is_binary(text) do
    case Regex.run(~r/\A(-)?(\d{1,3}(?:,\d{3})*|\d+)(?:\.(\d{1,2}))?\z/, String.trim(text)) do
      nil ->
        :error

      [_ | groups] ->
        [sign, units, fraction] = groups ++ List.duplicate("", 3 - length(groups))
        units = units |> String.replace(",", "") |> String.to_integer()

        fraction =
          if fraction == "", do: 0, else: String.to_integer(String.pad_trailing(fraction, 2, "0"))

        amount = units * 100 + fraction
        {:ok, if(sign == "-", do: -amount, else: amount)}
    end
  end

  # Rounds half away from zero in integer arithmetic: adding half the divisor
  # before dividing is exact, where multiplying by a float rate is not.
  @spec percent_of(cents(), basis_points()) :: cents()
  defp percent_of(amount, bp) do
    product = abs(amount) * bp
    rounded = div(product + 5_000, 10_000)
    if amount < 0, do: -rounded, else: rounded
  end

  @spec group_thousands(String.t()) :: String.t()
  defp group_thousands(digits) do
    digits
    |> String.reverse()
    |> String.to_charlist()
    |> Enum.chunk_every(3)
    |> Enum.map_join(",", &List.to_string/1)
    |> String.reverse()
  end
end
