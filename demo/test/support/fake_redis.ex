# A scripted stand-in for a Redis server, so unit tests can drive Demo.Redis through AUTH, SELECT and odd replies.
defmodule Demo.FakeRedis do
  @moduledoc """
  Listens on a free local port, accepts one connection, and answers each
  command with the next reply from a script, reporting every command it
  received to the test process as `{:fake_redis, args}`.
  """

  @doc "Starts the fake server and returns its URL with the given user info and path."
  @spec start([binary()], String.t()) :: String.t()
  def start(replies, userinfo_and_path \\ "") do
    test = self()
    opts = [:binary, active: false, packet: :line, reuseaddr: true]
    {:ok, listener} = :gen_tcp.listen(0, [{:ip, {127, 0, 0, 1}} | opts])
    {:ok, port} = :inet.port(listener)

    spawn_link(fn ->
      {:ok, socket} = :gen_tcp.accept(listener, 5_000)
      serve(socket, test, replies)
    end)

    {userinfo, path} = split(userinfo_and_path)
    "redis://#{userinfo}127.0.0.1:#{port}#{path}"
  end

  defp serve(socket, _test, []), do: :gen_tcp.close(socket)

  defp serve(socket, test, [reply | replies]) do
    send(test, {:fake_redis, read_command(socket)})
    :ok = :gen_tcp.send(socket, reply)
    serve(socket, test, replies)
  end

  # Reads "*N" and then N bulk strings; test values never contain CRLF, so
  # each bulk string arrives as one line.
  defp read_command(socket) do
    {:ok, "*" <> count} = :gen_tcp.recv(socket, 0, 5_000)

    for _ <- 1..String.to_integer(String.trim(count)) do
      {:ok, "$" <> _size} = :gen_tcp.recv(socket, 0, 5_000)
      {:ok, value} = :gen_tcp.recv(socket, 0, 5_000)
      String.trim_trailing(value, "\r\n")
    end
  end

  defp split(text) do
    case String.split(text, "@", parts: 2) do
      [userinfo, path] -> {userinfo <> "@", path}
      [path] -> {"", path}
    end
  end
end
