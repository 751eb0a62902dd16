# Unit tests for Demo.Slug.
defmodule Demo.SlugTest do
  use Demo.Case, async: true
  @moduletag :unit

  alias Demo.Slug

  doctest Slug

  test "slugify/1 folds accents, case and punctuation" do
    assert Slug.slugify("Hello, World!") == "hello-world"
    assert Slug.slugify("Ærø Ça Va") == "r-ca-va"
    assert Slug.slugify("---") == ""
  end

  test "slugify/1 caps the length without a trailing dash" do
    slug = Slug.slugify(String.duplicate("ab ", 40))
    assert String.length(slug) <= 60
    assert Slug.valid?(slug)
  end

  test "unique/2 returns the base slug when it is free" do
    assert Slug.unique("Tea", MapSet.new()) == "tea"
  end

  test "valid?/1 accepts only lowercase dash-separated words" do
    assert Slug.valid?("green-tea-2")
    refute Slug.valid?("Green-Tea")
    refute Slug.valid?("green--tea")
    refute Slug.valid?("")
  end
end
