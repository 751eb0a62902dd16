# Unit tests for the app's configuration and supervision tree.
defmodule DemoTest do
  use Demo.Case, async: true
  @moduletag :unit

  test "service URLs come from the app environment" do
    assert Demo.database_url() =~ ~r{\Apostgres://}
    assert Demo.redis_url() =~ ~r{\Aredis://}
  end

  test "the application starts its registry" do
    assert is_pid(Process.whereis(Demo.Registry))
    assert {:ok, _} = Registry.register(Demo.Registry, {__MODULE__, self()}, nil)
  end

  test "healthy?/1 needs every service up" do
    assert Demo.Health.healthy?(%{postgres: :ok, redis: :ok})
    refute Demo.Health.healthy?(%{postgres: :ok, redis: {:error, :econnrefused}})
  end
end
