# The demo's HTTP endpoint: /health, /ready, /live and /version for deploys to gate on.
defmodule Demo.HTTP do
  @moduledoc """
  DEMO CODE: a minimal HTTP/1.1 server over `:gen_tcp`, standing in for a
  Phoenix endpoint.

  A real app would serve these routes from its Phoenix router. The demo has no
  hex dependencies, so this server answers the four routes a deploy needs and
  nothing else, one request per connection (`Connection: close`):

    * `GET /health` and `GET /ready` - 200 with every check `"ok"`, or 503
      naming the failing check, from `Demo.Health`:
      `{"status":"ok","checks":{"postgres":"ok","redis":"ok"}}`
    * `GET /live` - 200 whenever the VM answers at all
    * `GET /version` - the version, git SHA and build time baked into the
      image (`"unknown"` outside one)

  `Demo.Application` starts it only when `config :demo, Demo.HTTP, server: true`
  is set, which `config/runtime.exs` does when `PHX_SERVER` is set, as a
  Phoenix endpoint does, so `mix test` binds no port unless a test asks for one.
  """

  use GenServer
  require Logger

  @typedoc "Options for `start_link/1`; `:health` replaces `Demo.Health.check/0` in tests."
  @type option ::
          {:port, :inet.port_number()}
          | {:ip, :inet.ip_address()}
          | {:name, GenServer.name()}
          | {:server, boolean()}
          | {:health, health()}

  # Written `(... -> ...)` rather than as a zero-arity fun type, which
  # formatters of different Elixir versions print in two different ways.
  @typedoc "A health check: called with no arguments, returns a `Demo.Health` report."
  @type health :: (... -> Demo.Health.report())

  @type status :: 200 | 400 | 404 | 405 | 503
  @type json :: String.t() | integer() | boolean() | nil | [{atom() | String.t(), json()}]

  # A client that sends nothing for this long is dropped, so it cannot hold a process.
  @recv_timeout 5_000

  @doc "Starts the server and binds its port; `port: 0` picks a free one (see `port/1`)."
  @spec start_link([option()]) :: GenServer.on_start()
  def start_link(opts) do
    {name, opts} = Keyword.pop(opts, :name, __MODULE__)
    GenServer.start_link(__MODULE__, opts, name: name)
  end

  @doc "The port the server listens on."
  @spec port(GenServer.server()) :: :inet.port_number()
  def port(server \\ __MODULE__), do: GenServer.call(server, :port)

  @impl GenServer
  def init(opts) do
    port = Keyword.get(opts, :port, 4000)
    ip = Keyword.get(opts, :ip, {127, 0, 0, 1})
    health = Keyword.get(opts, :health, &Demo.Health.check/0)
    listen_opts = [:binary, packet: :http_bin, active: false, reuseaddr: true, ip: ip]

    case :gen_tcp.listen(port, listen_opts) do
      {:ok, socket} ->
        {:ok, actual} = :inet.port(socket)
        acceptor = spawn_link(fn -> accept_loop(socket, health) end)
        Logger.info("Demo.HTTP listening on #{:inet.ntoa(ip)}:#{actual}")
        {:ok, %{socket: socket, port: actual, acceptor: acceptor}}

      {:error, reason} ->
        {:stop,
         "cannot listen on #{:inet.ntoa(ip)}:#{port} (#{:inet.format_error(reason)}); " <>
           "set PORT to a free port, or stop whatever holds this one"}
    end
  end

  @impl GenServer
  def handle_call(:port, _from, state), do: {:reply, state.port, state}

  # Each connection gets its own unlinked process, so a client that breaks its
  # request can only crash its own handler, never the acceptor.
  @spec accept_loop(:gen_tcp.socket(), health()) :: :ok
  defp accept_loop(socket, health) do
    case :gen_tcp.accept(socket) do
      {:ok, client} ->
        hand_over(client, health)
        accept_loop(socket, health)

      # The server closed its socket on the way down: nothing left to accept.
      {:error, :closed} ->
        :ok

      # Anything else (out of file descriptors, say) takes the server down
      # with it, and its supervisor starts it again.
      {:error, reason} ->
        exit({:accept_failed, reason})
    end
  end

  @spec hand_over(:gen_tcp.socket(), health()) :: :ok
  defp hand_over(client, health) do
    handler = spawn(fn -> receive(do: (:socket_ready -> serve(client, health))) end)

    case :gen_tcp.controlling_process(client, handler) do
      :ok ->
        send(handler, :socket_ready)
        :ok

      # The client hung up before the handover: nothing to answer.
      {:error, _} ->
        Process.exit(handler, :kill)
        :gen_tcp.close(client)
    end
  end

  @spec serve(:gen_tcp.socket(), health()) :: :ok
  defp serve(client, health) do
    response =
      case read_request(client) do
        {:ok, method, path} -> {method, respond(method, path, health)}
        {:error, :bad_request} -> {"GET", {400, [error: "bad request"]}}
        {:error, _closed_or_timeout} -> nil
      end

    if response, do: :gen_tcp.send(client, encode_response(response))
    :gen_tcp.close(client)
  end

  # With `packet: :http_bin` the VM parses the request line and the headers;
  # the routes take no body, so reading stops at the end of the headers.
  @spec read_request(:gen_tcp.socket()) ::
          {:ok, String.t(), String.t()} | {:error, :bad_request | :closed | :timeout | atom()}
  defp read_request(client) do
    case :gen_tcp.recv(client, 0, @recv_timeout) do
      {:ok, {:http_request, method, {:abs_path, target}, _version}} ->
        with :ok <- skip_headers(client), do: {:ok, to_string(method), path_of(target)}

      {:ok, _other} ->
        {:error, :bad_request}

      {:error, _} = error ->
        error
    end
  end

  @spec skip_headers(:gen_tcp.socket()) :: :ok | {:error, atom()}
  defp skip_headers(client) do
    case :gen_tcp.recv(client, 0, @recv_timeout) do
      {:ok, :http_eoh} -> :ok
      {:ok, {:http_header, _, _, _, _}} -> skip_headers(client)
      {:ok, _} -> {:error, :bad_request}
      {:error, _} = error -> error
    end
  end

  @spec path_of(binary()) :: String.t()
  defp path_of(target), do: target |> String.split("?", parts: 2) |> hd()

  @doc """
  Answers one request: the routing table of the server, without the socket.

  `health` is called for `/health` and `/ready` only, since a check opens a
  connection to each service.
  """
  @spec respond(String.t(), String.t(), health()) :: {status(), json()}
  def respond(method, path, health) when method in ["GET", "HEAD"] do
    case path do
      gate when gate in ["/health", "/ready"] -> health_response(health.())
      "/live" -> {200, [status: "ok"]}
      "/version" -> {200, version()}
      _ -> {404, [error: "not found"]}
    end
  end

  def respond(_method, _path, _health), do: {405, [error: "method not allowed"]}

  @doc """
  Turns a `Demo.Health` report into the status and body of `/health`.

  A failing check reads `"error"` under `checks`, and its reason is under
  `errors`, so a deploy log says which service is down and why.
  """
  @spec health_response(Demo.Health.report()) :: {200 | 503, json()}
  def health_response(report) do
    checks = Enum.sort(report)
    summary = for {name, status} <- checks, do: {name, if(status == :ok, do: "ok", else: "error")}
    errors = for {name, {:error, reason}} <- checks, do: {name, describe(reason)}

    if errors == [],
      do: {200, [status: "ok", checks: summary]},
      else: {503, [status: "error", checks: summary, errors: errors]}
  end

  # Reasons come from Demo.PG and Demo.Redis, which keep URLs (and so
  # passwords) out of their errors; the server's own message is safe to show.
  @spec describe(term()) :: String.t()
  defp describe(reason) when is_atom(reason), do: Atom.to_string(reason)
  defp describe({:server, %{message: message}}), do: message

  defp describe({kind, message}) when is_atom(kind) and is_binary(message),
    do: "#{kind}: #{message}"

  defp describe(other), do: inspect(other)

  @doc "The build's version, git SHA and build time, from the `:build` config that `config/runtime.exs` fills."
  @spec version() :: json()
  def version do
    build = Application.get_env(:demo, :build, [])
    for key <- [:version, :git_sha, :build_time], do: {key, Keyword.get(build, key, "unknown")}
  end

  @spec encode_response({String.t(), {status(), json()}}) :: iodata()
  defp encode_response({method, {status, body}}) do
    json = encode_json(body)
    allow = if status == 405, do: ["allow: GET, HEAD\r\n"], else: []

    [
      ["HTTP/1.1 ", Integer.to_string(status), " ", reason_phrase(status), "\r\n"],
      "content-type: application/json\r\n",
      ["content-length: ", Integer.to_string(IO.iodata_length(json)), "\r\n"],
      "cache-control: no-store\r\n",
      allow,
      "connection: close\r\n\r\n",
      if(method == "HEAD", do: [], else: json)
    ]
  end

  @spec reason_phrase(status()) :: String.t()
  defp reason_phrase(200), do: "OK"
  defp reason_phrase(400), do: "Bad Request"
  defp reason_phrase(404), do: "Not Found"
  defp reason_phrase(405), do: "Method Not Allowed"
  defp reason_phrase(503), do: "Service Unavailable"

  @doc """
  Encodes strings, integers, booleans, nil and objects written as keyword or
  `{key, value}` lists (which keep their order) as JSON.

      iex> Demo.HTTP.encode_json(status: "ok", n: 1) |> IO.iodata_to_binary()
      ~S({"status":"ok","n":1})
  """
  @spec encode_json(json()) :: iodata()
  def encode_json(value) when is_binary(value), do: [?", escape(value), ?"]
  def encode_json(value) when is_integer(value), do: Integer.to_string(value)
  def encode_json(nil), do: "null"
  def encode_json(value) when is_boolean(value), do: Atom.to_string(value)

  def encode_json(pairs) when is_list(pairs) do
    members =
      Enum.map(pairs, fn {key, value} -> [encode_json(to_string(key)), ?:, encode_json(value)] end)

    [?{, Enum.intersperse(members, ?,), ?}]
  end

  # JSON strings must escape the quote, the backslash and every control character.
  @spec escape(binary()) :: iodata()
  defp escape(<<>>), do: []
  defp escape(<<?", rest::binary>>), do: ["\\\"" | escape(rest)]
  defp escape(<<?\\, rest::binary>>), do: ["\\\\" | escape(rest)]
  defp escape(<<?\n, rest::binary>>), do: ["\\n" | escape(rest)]
  defp escape(<<?\r, rest::binary>>), do: ["\\r" | escape(rest)]
  defp escape(<<?\t, rest::binary>>), do: ["\\t" | escape(rest)]

  defp escape(<<char, rest::binary>>) when char < 0x20,
    do: ["\\u00", Base.encode16(<<char>>) | escape(rest)]

  defp escape(<<char, rest::binary>>), do: [char | escape(rest)]
end
