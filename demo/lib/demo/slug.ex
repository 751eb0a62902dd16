# Turns product names into URL slugs, the kind of pure helper every Phoenix app grows.
defmodule Demo.Slug do
  @moduledoc """
  Builds URL-safe slugs such as `"creme-brulee-2"` from free text.
  """

  @max_length 60

  @doc """
  Converts text to a lowercase, dash-separated ASCII slug.

  Accents are dropped rather than the whole letter, so "Crème" becomes
  "creme". The result is at most #{@max_length} characters and never ends in a dash.

      iex> Demo.Slug.slugify("  Crème Brûlée & Co. ")
      "creme-brulee-co"
  """
  @spec slugify(String.t()) :: String.t()
  def slugify(text) when is_binary(text) do
    text
    |> String.normalize(:nfd)
    # NFD splits "è" into "e" plus a combining accent; removing the
    # combining marks keeps the base letter.
    |> String.replace(~r/\p{Mn}/u, "")
    |> String.downcase()
    |> String.replace(~r/[^a-z0-9]+/, "-")
    |> String.slice(0, @max_length)
    |> String.trim("-")
  end

  @doc """
  Returns a slug for `text` that is not in `taken`, adding `-2`, `-3`, ... as needed.

      iex> Demo.Slug.unique("Tea", MapSet.new(["tea", "tea-2"]))
      "tea-3"
  """
  @spec unique(String.t(), MapSet.t(String.t())) :: String.t()
  def unique(text, taken) do
    base = slugify(text)

    if MapSet.member?(taken, base) do
      Stream.iterate(2, &(&1 + 1))
      |> Stream.map(&"#{base}-#{&1}")
      |> Enum.find(&(not MapSet.member?(taken, &1)))
    else
      base
    end
  end

  @doc "Tells whether a string is already a well-formed slug."
  @spec valid?(String.t()) :: boolean()
  def valid?(slug) when is_binary(slug) do
    byte_size(slug) in 1..@max_length and Regex.match?(~r/\A[a-z0-9]+(-[a-z0-9]+)*\z/, slug)
  end
end
