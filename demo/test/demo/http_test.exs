# Unit tests: Demo.HTTP's routes, status codes and JSON over a real socket, with a stand-in health check.
defmodule Demo.HTTPTest do
  # Not async: one test changes the app's :build config, which /version reads.
  use Demo.Case, async: false

  alias Demo.HTTP

  doctest Demo.HTTP

  @up %{postgres: :ok, redis: :ok}

  # A server on a free port per test; the health check is a fun, so the 503
  # path is tested without stopping any real service.
  defp start_server(health) do
    name = :"http_#{System.unique_integer([:positive])}"
    start_supervised!({HTTP, port: 0, name: name, health: health})
    HTTP.port(name)
  end

  # Sends raw request bytes and reads until the server closes the connection.
  defp request(port, raw) do
    {:ok, socket} = :gen_tcp.connect({127, 0, 0, 1}, port, [:binary, active: false])
    :ok = :gen_tcp.send(socket, raw)
    response = read_all(socket, "")
    [head, body] = String.split(response, "\r\n\r\n", parts: 2)
    [status_line | headers] = String.split(head, "\r\n")
    ["HTTP/1.1", status | _] = String.split(status_line, " ")
    {String.to_integer(status), headers, body}
  end

  defp get(port, path), do: request(port, "GET #{path} HTTP/1.1\r\nhost: localhost\r\n\r\n")

  defp read_all(socket, acc) do
    case :gen_tcp.recv(socket, 0, 5_000) do
      {:ok, data} -> read_all(socket, acc <> data)
      {:error, :closed} -> acc
    end
  end

  test "/health and /ready answer 200 with every check ok" do
    port = start_server(fn -> @up end)
    expected = ~S({"status":"ok","checks":{"postgres":"ok","redis":"ok"}})

    for path <- ["/health", "/ready", "/health?verbose=1"] do
      assert {200, headers, ^expected} = get(port, path)
      assert "content-type: application/json" in headers
      assert "content-length: #{byte_size(expected)}" in headers
    end
  end

  test "/health and /ready answer 503 and name the failing check" do
    port = start_server(fn -> %{postgres: :ok, redis: {:error, :econnrefused}} end)

    for path <- ["/health", "/ready"] do
      assert {503, _, body} = get(port, path)

      assert body ==
               ~S({"status":"error","checks":{"postgres":"ok","redis":"error"},"errors":{"redis":"econnrefused"}})
    end
  end

  test "/live answers 200 without running the health check" do
    port = start_server(fn -> flunk("/live must not check the services") end)
    assert {200, _, ~S({"status":"ok"})} = get(port, "/live")
  end

  test "/version reports the build, or unknown outside an image" do
    port = start_server(fn -> @up end)
    previous = Application.get_env(:demo, :build)
    on_exit(fn -> Application.put_env(:demo, :build, previous) end)

    Application.delete_env(:demo, :build)

    assert {200, _, ~S({"version":"unknown","git_sha":"unknown","build_time":"unknown"})} =
             get(port, "/version")

    Application.put_env(:demo, :build,
      version: "1.2.3",
      git_sha: "0123abc",
      build_time: "2025-03-01T12:00:00Z"
    )

    assert {200, _, body} = get(port, "/version")
    assert body == ~S({"version":"1.2.3","git_sha":"0123abc","build_time":"2025-03-01T12:00:00Z"})
  end

  test "unknown paths are 404, other methods 405, HEAD has no body" do
    port = start_server(fn -> @up end)
    assert {404, _, ~S({"error":"not found"})} = get(port, "/nope")

    assert {405, headers, _} = request(port, "POST /health HTTP/1.1\r\ncontent-length: 0\r\n\r\n")

    assert "allow: GET, HEAD" in headers
    assert {200, headers, ""} = request(port, "HEAD /live HTTP/1.1\r\n\r\n")
    assert "content-length: 15" in headers
  end

  test "a request that is not HTTP gets 400, and the server keeps serving" do
    port = start_server(fn -> @up end)
    assert {400, _, ~S({"error":"bad request"})} = request(port, "HELLO\r\n\r\n")
    assert {200, _, _} = get(port, "/live")
  end

  test "a client that connects and hangs up does not stop the server" do
    port = start_server(fn -> @up end)
    {:ok, socket} = :gen_tcp.connect({127, 0, 0, 1}, port, [:binary, active: false])
    :ok = :gen_tcp.close(socket)
    assert {200, _, _} = get(port, "/live")
  end

  test "a taken port fails the start with the fix in the message" do
    {:ok, taken} = :gen_tcp.listen(0, ip: {127, 0, 0, 1})
    {:ok, port} = :inet.port(taken)

    assert {:stop, message} = HTTP.init(port: port, ip: {127, 0, 0, 1})
    assert message =~ "cannot listen on 127.0.0.1:#{port}"
    assert message =~ "set PORT to a free port"
    :gen_tcp.close(taken)
  end

  test "JSON strings are escaped" do
    json = HTTP.encode_json(a: "quote \" backslash \\ newline \n tab \t bell \a", b: nil, c: true)

    assert IO.iodata_to_binary(json) ==
             ~S({"a":"quote \" backslash \\ newline \n tab \t bell \u0007","b":null,"c":true})
  end

  test "health reasons are described without leaking URLs" do
    report = %{
      postgres: {:error, {:server, %{message: "password authentication failed"}}},
      redis: {:error, {:url, "expected redis://[:PASSWORD@]HOST[:PORT][/DATABASE]"}}
    }

    assert {503, body} = HTTP.health_response(report)
    errors = Keyword.fetch!(body, :errors)
    assert errors[:postgres] == "password authentication failed"
    assert errors[:redis] == "url: expected redis://[:PASSWORD@]HOST[:PORT][/DATABASE]"

    assert {503, body} = HTTP.health_response(%{postgres: {:error, {:unexpected, 1}}})
    assert Keyword.fetch!(body, :errors) == [postgres: "{:unexpected, 1}"]
  end
end
