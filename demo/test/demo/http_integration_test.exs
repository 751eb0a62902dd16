# Integration tests: /health over HTTP against the services the CI tool started.
defmodule Demo.HTTPIntegrationTest do
  use Demo.Case, async: true
  @moduletag :integration

  alias Demo.HTTP

  defp get(port, path) do
    {:ok, socket} = :gen_tcp.connect({127, 0, 0, 1}, port, [:binary, active: false])
    :ok = :gen_tcp.send(socket, "GET #{path} HTTP/1.1\r\n\r\n")
    {:ok, response} = read_all(socket, "")
    [head, body] = String.split(response, "\r\n\r\n", parts: 2)
    {head |> String.split(" ") |> Enum.at(1) |> String.to_integer(), body}
  end

  defp read_all(socket, acc) do
    case :gen_tcp.recv(socket, 0, 15_000) do
      {:ok, data} -> read_all(socket, acc <> data)
      {:error, :closed} -> {:ok, acc}
    end
  end

  defp start_server(opts) do
    name = :"http_#{System.unique_integer([:positive])}"
    start_supervised!({HTTP, [port: 0, name: name] ++ opts})
    HTTP.port(name)
  end

  test "/health is 200 with the configured services up" do
    # The default check: Demo.Health at the URLs config/runtime.exs read.
    port = start_server([])

    assert get(port, "/health") ==
             {200, ~S({"status":"ok","checks":{"postgres":"ok","redis":"ok"}})}

    assert {200, _} = get(port, "/ready")
  end

  test "/health is 503 and names redis when redis does not answer" do
    port =
      start_server(health: fn -> Demo.Health.check(database_url!(), "redis://127.0.0.1:1") end)

    assert get(port, "/health") ==
             {503,
              ~S({"status":"error","checks":{"postgres":"ok","redis":"error"},"errors":{"redis":"econnrefused"}})}
  end
end
