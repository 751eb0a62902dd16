# A deliberately tiny PostgreSQL client so the demo can prove a database round trip without hex deps.
defmodule Demo.PG do
  @moduledoc """
  DEMO CODE: a minimal PostgreSQL wire-protocol client over `:gen_tcp`.

  Real apps use Postgrex (usually through Ecto). This one exists because the
  demo must build with no hex packages, yet its integration tests still need a
  real SQL round trip. It speaks protocol 3.0 without TLS, authenticates with
  trust, cleartext, md5 or SCRAM-SHA-256, and runs the simple query protocol,
  returning every value as text (or `nil` for NULL).
  """

  alias Demo.PG.Scram

  @enforce_keys [:socket, :timeout]
  defstruct [:socket, :timeout, parameters: %{}]

  @type t :: %__MODULE__{
          socket: :gen_tcp.socket(),
          timeout: timeout(),
          parameters: %{optional(String.t()) => String.t()}
        }
  @type config :: %{
          host: String.t(),
          port: :inet.port_number(),
          user: String.t(),
          password: String.t() | nil,
          database: String.t()
        }
  @type row :: [String.t() | nil]
  @type result :: %{command: String.t() | nil, columns: [String.t()], rows: [row()]}
  @type server_error :: %{optional(:severity | :code | :message | :detail) => String.t()}
  @type error ::
          {:server, server_error()}
          | {:auth, String.t()}
          | {:protocol, String.t()}
          | {:url, String.t()}
          | :inet.posix()
          | :closed
          | :timeout

  # Protocol 3.0, sent as major << 16 | minor.
  @protocol_version 196_608

  @doc """
  Parses `postgres://user:pass@host:port/database`.

  User and password are percent-decoded, so a password containing `@` or `/`
  can be written as `%40` or `%2F`.
  """
  @spec parse_url(String.t()) :: {:ok, config()} | {:error, error()}
  def parse_url(url) do
    case URI.parse(url) do
      %URI{scheme: scheme, host: host} = uri
      when scheme in ["postgres", "postgresql"] and is_binary(host) and host != "" ->
        {user, password} = userinfo(uri.userinfo)
        database = URI.decode(String.trim_leading(uri.path || "", "/"))

        {:ok,
         %{
           host: host,
           port: uri.port || 5432,
           user: user,
           password: password,
           # Like libpq, default the database name to the user name.
           database: if(database == "", do: user, else: database)
         }}

      # The URL may hold a password, so it is left out of the message.
      _ ->
        {:error, {:url, "expected postgres://USER:PASS@HOST:PORT/DATABASE"}}
    end
  end

  # Like libpq, fall back to the "postgres" user when the URL names none.
  @spec userinfo(String.t() | nil) :: {String.t(), String.t() | nil}
  defp userinfo(nil), do: {"postgres", nil}

  defp userinfo(userinfo) do
    case String.split(userinfo, ":", parts: 2) do
      [user, password] -> {URI.decode(user), URI.decode(password)}
      [user] -> {URI.decode(user), nil}
    end
  end

  @doc "Connects and authenticates, given a URL or a config from `parse_url/1`."
  @spec connect(String.t() | config(), timeout()) :: {:ok, t()} | {:error, error()}
  def connect(url_or_config, timeout \\ 5_000)

  def connect(url, timeout) when is_binary(url) do
    with {:ok, config} <- parse_url(url), do: connect(config, timeout)
  end

  def connect(%{host: host, port: port} = config, timeout) do
    opts = [:binary, active: false, packet: :raw, nodelay: true]

    with {:ok, socket} <- :gen_tcp.connect(String.to_charlist(host), port, opts, timeout) do
      conn = %__MODULE__{socket: socket, timeout: timeout}
      params = ["user", 0, config.user, 0, "database", 0, config.database, 0, 0]

      with :ok <- send_raw(conn, [<<@protocol_version::32>> | params]),
           :ok <- authenticate(conn, config),
           {:ok, conn} <- await_ready(conn) do
        {:ok, conn}
      else
        error ->
          :gen_tcp.close(socket)
          error
      end
    end
  end

  @doc """
  Runs SQL with the simple query protocol and returns the last statement's result.

  Several statements separated by `;` run in one implicit transaction, as in psql.
  """
  @spec query(t(), String.t()) :: {:ok, result()} | {:error, error()}
  def query(%__MODULE__{} = conn, sql) when is_binary(sql) do
    with :ok <- send_message(conn, ?Q, [sql, 0]) do
      collect(conn, {[], []}, %{command: nil, columns: [], rows: []}, nil)
    end
  end

  @doc "Says goodbye to the server and closes the socket."
  @spec close(t()) :: :ok
  def close(%__MODULE__{socket: socket} = conn) do
    _ = send_message(conn, ?X, [])
    :gen_tcp.close(socket)
  end

  # The server answers the startup message with one Authentication request
  # after another until it sends AuthenticationOk (code 0) or an error.
  @spec authenticate(t(), config()) :: :ok | {:error, error()}
  defp authenticate(conn, %{password: password} = config) do
    case recv_message(conn) do
      {:ok, ?R, <<0::32>>} ->
        :ok

      {:ok, ?R, <<code::32, _::binary>>} when code in [3, 5, 10] and is_nil(password) ->
        {:error, {:auth, "the server wants a password but the URL has none"}}

      {:ok, ?R, <<3::32>>} ->
        with :ok <- send_message(conn, ?p, [password, 0]), do: authenticate(conn, config)

      {:ok, ?R, <<5::32, salt::binary-4>>} ->
        inner = md5_hex([password, config.user])
        digest = "md5" <> md5_hex([inner, salt])
        with :ok <- send_message(conn, ?p, [digest, 0]), do: authenticate(conn, config)

      {:ok, ?R, <<10::32, mechanisms::binary>>} ->
        if "SCRAM-SHA-256" in String.split(mechanisms, <<0>>),
          do: scram(conn, config),
          else: {:error, {:auth, "no supported SASL mechanism in #{inspect(mechanisms)}"}}

      {:ok, ?R, <<code::32, _::binary>>} ->
        {:error, {:auth, "unsupported authentication request #{code}"}}

      other ->
        unexpected(other)
    end
  end

  @spec scram(t(), config()) :: :ok | {:error, error()}
  defp scram(conn, %{password: password} = config) do
    {first, state} = Scram.client_first("", Base.encode64(:crypto.strong_rand_bytes(18)))
    initial = ["SCRAM-SHA-256", 0, <<byte_size(first)::32>>, first]

    with :ok <- send_message(conn, ?p, initial),
         {:ok, server_first} <- recv_sasl(conn, 11),
         {:ok, final, state} <- wrap_auth(Scram.client_final(state, server_first, password)),
         :ok <- send_message(conn, ?p, final),
         {:ok, server_final} <- recv_sasl(conn, 12),
         :ok <- wrap_auth(Scram.verify_server_final(state, server_final)) do
      authenticate(conn, config)
    end
  end

  # SASLContinue (11) and SASLFinal (12) carry the server's SCRAM messages.
  @spec recv_sasl(t(), 11 | 12) :: {:ok, binary()} | {:error, error()}
  defp recv_sasl(conn, code) do
    case recv_message(conn) do
      {:ok, ?R, <<^code::32, data::binary>>} -> {:ok, data}
      other -> unexpected(other)
    end
  end

  # After authentication the server reports its settings, then ReadyForQuery.
  @spec await_ready(t()) :: {:ok, t()} | {:error, error()}
  defp await_ready(conn) do
    case recv_message(conn) do
      {:ok, ?S, body} ->
        [name, value | _] = String.split(body, <<0>>)
        await_ready(%{conn | parameters: Map.put(conn.parameters, name, value)})

      {:ok, type, _} when type in [?K, ?N] ->
        await_ready(conn)

      {:ok, ?Z, _} ->
        {:ok, conn}

      other ->
        unexpected(other)
    end
  end

  # Reads until ReadyForQuery. An error does not end the exchange early:
  # the server still sends ReadyForQuery, which must be consumed.
  @spec collect(t(), {[String.t()], [row()]}, result(), server_error() | nil) ::
          {:ok, result()} | {:error, error()}
  defp collect(conn, {columns, rows} = acc, last, error) do
    case recv_message(conn) do
      {:ok, ?T, <<_count::16, fields::binary>>} ->
        collect(conn, {column_names(fields), []}, last, error)

      {:ok, ?D, <<_count::16, values::binary>>} ->
        collect(conn, {columns, [decode_row(values) | rows]}, last, error)

      {:ok, ?C, tag} ->
        collect(
          conn,
          {[], []},
          %{command: cstring(tag), columns: columns, rows: Enum.reverse(rows)},
          error
        )

      {:ok, ?E, body} ->
        collect(conn, acc, last, error_fields(body, %{}))

      {:ok, ?Z, _} when is_map(error) ->
        {:error, {:server, error}}

      {:ok, ?Z, _} ->
        {:ok, last}

      {:ok, type, _} when type in [?I, ?N, ?S] ->
        collect(conn, acc, last, error)

      other ->
        unexpected(other)
    end
  end

  # RowDescription: per column a name, then 18 bytes of type data we skip
  # because every value arrives as text.
  @spec column_names(binary()) :: [String.t()]
  defp column_names(<<>>), do: []

  defp column_names(fields) do
    [name, rest] = :binary.split(fields, <<0>>)
    <<_type_info::binary-18, rest::binary>> = rest
    [name | column_names(rest)]
  end

  @spec decode_row(binary()) :: row()
  defp decode_row(<<>>), do: []
  defp decode_row(<<-1::signed-32, rest::binary>>), do: [nil | decode_row(rest)]

  defp decode_row(<<len::32, value::binary-size(len), rest::binary>>),
    do: [value | decode_row(rest)]

  @spec error_fields(binary(), server_error()) :: server_error()
  defp error_fields(<<0>>, acc), do: acc

  defp error_fields(<<code, rest::binary>>, acc) do
    [value, rest] = :binary.split(rest, <<0>>)
    keys = %{?S => :severity, ?C => :code, ?M => :message, ?D => :detail}

    case keys do
      %{^code => key} -> error_fields(rest, Map.put(acc, key, value))
      _ -> error_fields(rest, acc)
    end
  end

  @spec unexpected({:ok, byte(), binary()} | {:error, error()}) :: {:error, error()}
  defp unexpected({:ok, ?E, body}), do: {:error, {:server, error_fields(body, %{})}}
  defp unexpected({:ok, type, _}), do: {:error, {:protocol, "unexpected message #{<<type>>}"}}
  defp unexpected({:error, _} = error), do: error

  @spec wrap_auth({:error, String.t()} | other) :: {:error, error()} | other when other: term()
  defp wrap_auth({:error, message}), do: {:error, {:auth, message}}
  defp wrap_auth(other), do: other

  # Every backend message is a type byte, then a length that counts itself.
  @spec recv_message(t()) :: {:ok, byte(), binary()} | {:error, error()}
  defp recv_message(%__MODULE__{socket: socket, timeout: timeout}) do
    with {:ok, <<type, len::32>>} <- :gen_tcp.recv(socket, 5, timeout),
         {:ok, body} <- if(len > 4, do: :gen_tcp.recv(socket, len - 4, timeout), else: {:ok, ""}) do
      {:ok, type, body}
    end
  end

  @spec send_message(t(), byte(), iodata()) :: :ok | {:error, error()}
  defp send_message(conn, type, payload) do
    :gen_tcp.send(conn.socket, [type, <<IO.iodata_length(payload) + 4::32>> | payload])
  end

  # The startup message is the only one without a type byte.
  @spec send_raw(t(), iodata()) :: :ok | {:error, error()}
  defp send_raw(conn, payload) do
    :gen_tcp.send(conn.socket, [<<IO.iodata_length(payload) + 4::32>> | payload])
  end

  @spec cstring(binary()) :: String.t()
  defp cstring(binary), do: binary |> :binary.split(<<0>>) |> hd()

  @spec md5_hex(iodata()) :: String.t()
  defp md5_hex(data), do: :md5 |> :crypto.hash(data) |> Base.encode16(case: :lower)
end
