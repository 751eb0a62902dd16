# A deliberately tiny Redis client so the demo can prove a cache round trip without hex deps.
defmodule Demo.Redis do
  @moduledoc """
  DEMO CODE: a minimal RESP2 client over `:gen_tcp`.

  Real apps use Redix. This one exists because the demo must build with no
  hex packages, yet its integration tests still need real SET/GET/INCR calls.
  It connects, sends `AUTH` when the URL has a password, selects the database
  number from the URL path (`redis://host:6379/3`), and runs one command at a time.
  """

  @enforce_keys [:socket, :timeout]
  defstruct [:socket, :timeout]

  @type t :: %__MODULE__{socket: :gen_tcp.socket(), timeout: timeout()}
  @type config :: %{
          host: String.t(),
          port: :inet.port_number(),
          username: String.t() | nil,
          password: String.t() | nil,
          database: non_neg_integer()
        }
  @type value :: String.t() | integer() | nil | [value()]
  @type error ::
          {:redis, String.t()}
          | {:url, String.t()}
          | {:protocol, String.t()}
          | :inet.posix()
          | :closed
          | :timeout

  @doc """
  Parses `redis://[[user]:password@]host[:port][/database]`.
  """
  @spec parse_url(String.t()) :: {:ok, config()} | {:error, error()}
  def parse_url(url) do
    with %URI{scheme: "redis", host: host} = uri when is_binary(host) and host != "" <-
           URI.parse(url),
         {database, ""} when database >= 0 <- Integer.parse(db_path(uri.path)) do
      {username, password} = userinfo(uri.userinfo)

      {:ok,
       %{
         host: host,
         port: uri.port || 6379,
         username: username,
         password: password,
         database: database
       }}
    else
      # The URL may hold a password, so it is left out of the message.
      _ -> {:error, {:url, "expected redis://[:PASSWORD@]HOST[:PORT][/DATABASE]"}}
    end
  end

  @doc "Connects, authenticates and selects the database, given a URL or a config."
  @spec connect(String.t() | config(), timeout()) :: {:ok, t()} | {:error, error()}
  def connect(url_or_config, timeout \\ 5_000)

  def connect(url, timeout) when is_binary(url) do
    with {:ok, config} <- parse_url(url), do: connect(config, timeout)
  end

  def connect(%{host: host, port: port} = config, timeout) do
    # Replies are CRLF-terminated lines, so the socket reads a line at a time;
    # bulk strings switch to raw mode to read an exact byte count.
    opts = [:binary, active: false, packet: :line, nodelay: true]

    with {:ok, socket} <- :gen_tcp.connect(String.to_charlist(host), port, opts, timeout) do
      conn = %__MODULE__{socket: socket, timeout: timeout}

      with :ok <- auth(conn, config),
           :ok <- select(conn, config.database) do
        {:ok, conn}
      else
        error ->
          :gen_tcp.close(socket)
          error
      end
    end
  end

  @doc """
  Sends one command and waits for its reply.

      {:ok, "OK"} = Demo.Redis.command(conn, ["SET", "greeting", "hello"])
      {:ok, 1} = Demo.Redis.command(conn, ["INCR", "visits"])

  A Redis error reply comes back as `{:error, {:redis, message}}`.
  """
  @spec command(t(), [String.t() | integer()]) :: {:ok, value()} | {:error, error()}
  def command(%__MODULE__{socket: socket} = conn, [_ | _] = args) do
    with :ok <- :gen_tcp.send(socket, encode(args)), do: read_reply(conn)
  end

  @doc "Closes the connection."
  @spec close(t()) :: :ok
  def close(%__MODULE__{socket: socket}), do: :gen_tcp.close(socket)

  @doc """
  Encodes a command as a RESP array of bulk strings, the form Redis expects from clients.

      iex> IO.iodata_to_binary(Demo.Redis.encode(["GET", "k"]))
      "*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n"
  """
  @spec encode([String.t() | integer()]) :: iodata()
  def encode(args) do
    bulk =
      for arg <- args do
        arg = to_string(arg)
        ["$", Integer.to_string(byte_size(arg)), "\r\n", arg, "\r\n"]
      end

    ["*", Integer.to_string(length(args)), "\r\n" | bulk]
  end

  @spec auth(t(), config()) :: :ok | {:error, error()}
  defp auth(_conn, %{password: nil}), do: :ok

  defp auth(conn, %{username: nil, password: password}),
    do: expect_ok(command(conn, ["AUTH", password]))

  # Redis 6 ACL users authenticate with a user name as well.
  defp auth(conn, %{username: username, password: password}),
    do: expect_ok(command(conn, ["AUTH", username, password]))

  # Database 0 is the default, so selecting it would be a wasted round trip.
  @spec select(t(), non_neg_integer()) :: :ok | {:error, error()}
  defp select(_conn, 0), do: :ok
  defp select(conn, database), do: expect_ok(command(conn, ["SELECT", database]))

  @spec expect_ok({:ok, value()} | {:error, error()}) :: :ok | {:error, error()}
  defp expect_ok({:ok, "OK"}), do: :ok
  defp expect_ok({:ok, other}), do: {:error, {:protocol, "expected OK, got #{inspect(other)}"}}
  defp expect_ok({:error, _} = error), do: error

  @spec read_reply(t()) :: {:ok, value()} | {:error, error()}
  defp read_reply(%__MODULE__{socket: socket, timeout: timeout} = conn) do
    with {:ok, line} <- :gen_tcp.recv(socket, 0, timeout) do
      parse_line(conn, String.trim_trailing(line, "\r\n"))
    end
  end

  @spec parse_line(t(), String.t()) :: {:ok, value()} | {:error, error()}
  defp parse_line(_conn, "+" <> status), do: {:ok, status}
  defp parse_line(_conn, "-" <> message), do: {:error, {:redis, message}}
  defp parse_line(_conn, ":" <> integer), do: {:ok, String.to_integer(integer)}
  defp parse_line(_conn, "$-1"), do: {:ok, nil}
  defp parse_line(conn, "$" <> size), do: read_bulk(conn, String.to_integer(size))
  defp parse_line(_conn, "*-1"), do: {:ok, nil}
  defp parse_line(conn, "*" <> count), do: read_array(conn, String.to_integer(count), [])
  defp parse_line(_conn, line), do: {:error, {:protocol, "unexpected reply #{inspect(line)}"}}

  # A bulk string may contain CRLF itself, so it is read by length, not by line.
  @spec read_bulk(t(), non_neg_integer()) :: {:ok, String.t()} | {:error, error()}
  defp read_bulk(%__MODULE__{socket: socket, timeout: timeout}, size) do
    :ok = :inet.setopts(socket, packet: :raw)
    reply = :gen_tcp.recv(socket, size + 2, timeout)
    :ok = :inet.setopts(socket, packet: :line)

    case reply do
      {:ok, <<value::binary-size(size), "\r\n">>} -> {:ok, value}
      {:ok, _} -> {:error, {:protocol, "bulk string without CRLF"}}
      {:error, _} = error -> error
    end
  end

  @spec read_array(t(), non_neg_integer(), [value()]) :: {:ok, [value()]} | {:error, error()}
  defp read_array(_conn, 0, acc), do: {:ok, Enum.reverse(acc)}

  defp read_array(conn, count, acc) do
    with {:ok, value} <- read_reply(conn), do: read_array(conn, count - 1, [value | acc])
  end

  @spec db_path(String.t() | nil) :: String.t()
  defp db_path(path) when path in [nil, "", "/"], do: "0"
  defp db_path("/" <> database), do: database
  defp db_path(other), do: other

  # "redis://:secret@host" has an empty user name, which means "no ACL user".
  @spec userinfo(String.t() | nil) :: {String.t() | nil, String.t() | nil}
  defp userinfo(nil), do: {nil, nil}

  defp userinfo(userinfo) do
    case String.split(userinfo, ":", parts: 2) do
      ["", password] -> {nil, URI.decode(password)}
      [user, password] -> {URI.decode(user), URI.decode(password)}
      [_user] -> {nil, nil}
    end
  end
end
