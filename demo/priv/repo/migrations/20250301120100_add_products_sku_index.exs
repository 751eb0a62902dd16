# Migration: makes SKUs unique, with the index name Ecto's unique_index(:products, [:sku]) would give.
defmodule Demo.Repo.Migrations.AddProductsSkuIndex do
  def up, do: ["CREATE UNIQUE INDEX products_sku_index ON products (sku)"]
  def down, do: ["DROP INDEX products_sku_index"]
end
