# Entry point of the demo app: where to find the services the app talks to.
defmodule Demo do
  @moduledoc """
  A Phoenix-shaped app with no dependencies, used as the test subject of phx-xtask.

  It has just enough real code (money math, slugs, two tiny service clients)
  that the CI steps have something genuine to format, compile, type-check and test.
  """

  @doc """
  Returns the PostgreSQL URL the app is configured with.

  It is read at runtime, not compile time, because config/runtime.exs fills it
  from `DATABASE_URL` after the code is built.
  """
  @spec database_url() :: String.t()
  def database_url, do: Application.fetch_env!(:demo, :database_url)

  @doc "Returns the Redis URL the app is configured with, read at runtime like `database_url/0`."
  @spec redis_url() :: String.t()
  def redis_url, do: Application.fetch_env!(:demo, :redis_url)
end
