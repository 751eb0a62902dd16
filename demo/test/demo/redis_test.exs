# Unit tests for Demo.Redis's URL parsing and RESP encoding, which need no server.
defmodule Demo.RedisTest do
  use Demo.Case, async: true
  @moduletag :unit

  alias Demo.FakeRedis
  alias Demo.Redis

  doctest Redis

  test "parse_url/1 reads host, port, password and database" do
    assert Redis.parse_url("redis://:s%40cret@cache:6380/3") ==
             {:ok, %{host: "cache", port: 6380, username: nil, password: "s@cret", database: 3}}

    assert {:ok, %{username: "app", password: "pw"}} = Redis.parse_url("redis://app:pw@cache")
  end

  test "parse_url/1 defaults to port 6379 and database 0" do
    assert {:ok, %{port: 6379, database: 0, password: nil}} = Redis.parse_url("redis://localhost")
    assert {:ok, %{database: 0}} = Redis.parse_url("redis://localhost/")
  end

  test "parse_url/1 rejects bad URLs" do
    assert {:error, {:url, _}} = Redis.parse_url("http://localhost")
    assert {:error, {:url, _}} = Redis.parse_url("redis://localhost/x")
    assert {:error, {:url, _}} = Redis.parse_url("redis:///0")
  end

  test "encode/1 sends integers as bulk strings" do
    assert IO.iodata_to_binary(Redis.encode(["SELECT", 12])) ==
             "*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n"
  end

  test "connect/1 sends AUTH and SELECT from the URL" do
    url = FakeRedis.start(["+OK\r\n", "+OK\r\n", "+PONG\r\n"], "app:pw@/3")
    {:ok, conn} = Redis.connect(url)
    assert {:ok, "PONG"} = Redis.command(conn, ["PING"])
    Redis.close(conn)

    assert_received {:fake_redis, ["AUTH", "app", "pw"]}
    assert_received {:fake_redis, ["SELECT", "3"]}
    assert_received {:fake_redis, ["PING"]}
  end

  test "connect/1 returns the server's refusal" do
    url = FakeRedis.start(["-WRONGPASS invalid password\r\n"], ":nope@")
    assert {:error, {:redis, "WRONGPASS" <> _}} = Redis.connect(url)
    assert_received {:fake_redis, ["AUTH", "nope"]}

    url = FakeRedis.start(["+QUEUED\r\n"], "/1")
    assert {:error, {:protocol, "expected OK" <> _}} = Redis.connect(url)
  end

  test "command/2 decodes nested arrays, nils and unknown replies" do
    replies = ["*3\r\n*1\r\n:7\r\n$-1\r\n$0\r\n\r\n", "*-1\r\n", "?huh\r\n"]
    {:ok, conn} = Redis.connect(FakeRedis.start(replies))
    assert {:ok, [[7], nil, ""]} = Redis.command(conn, ["LRANGE", "k", 0, -1])
    assert {:ok, nil} = Redis.command(conn, ["BLPOP", "k", 1])
    assert {:error, {:protocol, "unexpected reply" <> _}} = Redis.command(conn, ["PING"])
  end
end
