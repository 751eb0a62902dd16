# Migration: stores each product's URL slug (Demo.Slug), backfilled from the name for existing rows.
defmodule Demo.Repo.Migrations.AddProductsSlug do
  # Two statements in one transaction: the column, then a rough backfill that
  # the app's Demo.Slug would refine on the next save.
  def up do
    [
      "ALTER TABLE products ADD COLUMN slug varchar(255)",
      "UPDATE products SET slug = trim(both '-' from regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g'))"
    ]
  end

  def down, do: ["ALTER TABLE products DROP COLUMN slug"]
end
