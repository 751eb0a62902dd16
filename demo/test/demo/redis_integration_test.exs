# Integration tests: SET/GET/INCR through Demo.Redis against the REDIS_URL server.
defmodule Demo.RedisIntegrationTest do
  use Demo.Case, async: true
  @moduletag :integration

  alias Demo.Redis

  setup do
    {:ok, conn} = Redis.connect(redis_url!())
    key = unique_name("demo")
    on_exit(fn -> cleanup(key) end)
    %{conn: conn, key: key}
  end

  test "SET then GET returns the value, CRLF and all", %{conn: conn, key: key} do
    value = "line one\r\nline two ✓"
    assert {:ok, "OK"} = Redis.command(conn, ["SET", key, value])
    assert {:ok, ^value} = Redis.command(conn, ["GET", key])
    assert {:ok, nil} = Redis.command(conn, ["GET", key <> ":missing"])
  end

  test "INCR counts from zero", %{conn: conn, key: key} do
    counter = key <> ":count"
    assert {:ok, 1} = Redis.command(conn, ["INCR", counter])
    assert {:ok, 2} = Redis.command(conn, ["INCR", counter])
    assert {:ok, ["2", nil]} = Redis.command(conn, ["MGET", counter, key <> ":none"])
  end

  test "PING answers and errors come back as values", %{conn: conn, key: key} do
    assert {:ok, "PONG"} = Redis.command(conn, ["PING"])
    assert {:ok, "OK"} = Redis.command(conn, ["SET", key, "text"])
    assert {:error, {:redis, "ERR " <> _}} = Redis.command(conn, ["INCR", key])
  end

  test "uses the database number from the URL", %{conn: conn, key: key} do
    {:ok, config} = Redis.parse_url(redis_url!())
    other = %{config | database: if(config.database == 0, do: 1, else: 0)}
    assert {:ok, "OK"} = Redis.command(conn, ["SET", key, "here"])

    {:ok, elsewhere} = Redis.connect(other)
    assert {:ok, nil} = Redis.command(elsewhere, ["GET", key])
    Redis.close(elsewhere)
  end

  defp cleanup(key) do
    {:ok, conn} = Redis.connect(redis_url!())
    {:ok, _} = Redis.command(conn, ["DEL", key, key <> ":count"])
    Redis.close(conn)
  end
end
