# Migration: creates the products table that Demo.Catalog's products would be stored in.
defmodule Demo.Repo.Migrations.CreateProducts do
  # Prices are integer cents, as in Demo.Catalog, and can never go negative.
  def up do
    [
      """
      CREATE TABLE products (
        id bigserial PRIMARY KEY,
        sku varchar(255) NOT NULL,
        name varchar(255) NOT NULL,
        price_cents integer NOT NULL CONSTRAINT price_cents_not_negative CHECK (price_cents >= 0),
        inserted_at timestamp(0) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
        updated_at timestamp(0) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
      )
      """
    ]
  end

  def down, do: ["DROP TABLE products"]
end
