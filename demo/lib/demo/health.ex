# Readiness check for the services the app depends on, as a /health endpoint would report it.
defmodule Demo.Health do
  @moduledoc """
  Checks that PostgreSQL and Redis answer, using the demo clients.

  A release runs this before it reports ready, so a misconfigured URL shows
  up as a named failure instead of as the first user's error.
  """

  @type status :: :ok | {:error, term()}
  @type report :: %{postgres: status(), redis: status()}

  @doc "Checks both services, by default at the URLs in the app's configuration."
  @spec check(String.t(), String.t()) :: report()
  def check(database_url \\ Demo.database_url(), redis_url \\ Demo.redis_url()) do
    %{postgres: check_postgres(database_url), redis: check_redis(redis_url)}
  end

  @doc "Tells whether every service in a report is up."
  @spec healthy?(report()) :: boolean()
  def healthy?(report), do: Enum.all?(report, fn {_service, status} -> status == :ok end)

  @spec check_postgres(String.t()) :: status()
  defp check_postgres(url) do
    with {:ok, conn} <- Demo.PG.connect(url) do
      result = Demo.PG.query(conn, "SELECT 1")
      Demo.PG.close(conn)

      case result do
        {:ok, %{rows: [["1"]]}} -> :ok
        {:ok, other} -> {:error, {:unexpected, other}}
        {:error, _} = error -> error
      end
    end
  end

  @spec check_redis(String.t()) :: status()
  defp check_redis(url) do
    with {:ok, conn} <- Demo.Redis.connect(url) do
      result = Demo.Redis.command(conn, ["PING"])
      Demo.Redis.close(conn)

      case result do
        {:ok, "PONG"} -> :ok
        {:ok, other} -> {:error, {:unexpected, other}}
        {:error, _} = error -> error
      end
    end
  end
end
