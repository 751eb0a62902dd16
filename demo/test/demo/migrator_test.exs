# Unit tests: how Demo.Migrator finds and loads migration files, without a database.
defmodule Demo.MigratorTest do
  use Demo.Case, async: true

  alias Demo.Migrator

  @moduletag :tmp_dir

  test "finds <version>_<name>.exs files like Ecto.Migrator, sorted by version", %{tmp_dir: dir} do
    File.mkdir_p!(Path.join(dir, "nested"))

    for file <- [
          "20250301120100_second.exs",
          "nested/20250301120000_first.exs",
          "20250301120200_ends_in_ex.ex",
          "notes.exs",
          "2025_x_no_underscore_after.txt",
          "readme_20250301.exs"
        ],
        do: File.write!(Path.join(dir, file), "")

    assert [{20_250_301_120_000, "first", first}, {20_250_301_120_100, "second", _}] =
             Migrator.migrations_in(dir)

    assert first == Path.join([dir, "nested", "20250301120000_first.exs"])
  end

  test "the demo's own migrations have Ecto's 14-digit versions and load both ways" do
    migrations = Migrator.migrations_in(Demo.Release.migrations_path())
    assert length(migrations) >= 3

    for {version, _name, file} <- migrations do
      assert version |> Integer.to_string() |> String.length() == 14
      assert {:ok, [_ | _]} = Migrator.load(file, :up)
      assert {:ok, [_ | _]} = Migrator.load(file, :down)
    end
  end

  test "a file without up/0 or with a non-SQL result is an error naming the file",
       %{tmp_dir: dir} do
    name = "M#{System.unique_integer([:positive])}"
    no_down = Path.join(dir, "1_no_down.exs")
    File.write!(no_down, "defmodule Demo.Mig.#{name}A do\n def up, do: \"SELECT 1\"\nend\n")
    assert {:ok, ["SELECT 1"]} = Migrator.load(no_down, :up)
    assert {:error, message} = Migrator.load(no_down, :down)
    assert message =~ "1_no_down.exs defines no module with a down/0 function"

    bad = Path.join(dir, "2_bad.exs")

    File.write!(bad, """
    defmodule Demo.Mig.#{name}B do
      def up, do: [:not_sql]
      def down, do: []
    end
    """)

    assert {:error, up_message} = Migrator.load(bad, :up)
    assert up_message =~ "up/0 must return SQL strings"
    assert {:error, down_message} = Migrator.load(bad, :down)
    assert down_message =~ "down/0 must return a SQL string or a non-empty list of them"
  end

  test "status is printed in mix ecto.migrations' layout" do
    text =
      Demo.Release.format_status(Demo.Repo, [
        {:up, 20_250_301_120_000, "create_products"},
        {:down, 20_250_301_120_100, "add_products_sku_index"}
      ])

    assert text =~ "Repo: Demo.Repo"
    assert text =~ "  Status    Migration ID    Migration Name\n"
    assert text =~ "  up        20250301120000  create_products\n"
    assert text =~ "  down      20250301120100  add_products_sku_index\n"
  end
end
