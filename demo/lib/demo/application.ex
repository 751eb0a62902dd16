# OTP application callback: starts the demo's supervision tree.
defmodule Demo.Application do
  @moduledoc """
  Starts the demo's supervision tree.

  It holds a registry and, when configured with `server: true` (as
  `config/runtime.exs` does when `PHX_SERVER` is set), the HTTP server. The
  service clients are plain functions over a socket, so there is no
  connection pool to supervise.
  """

  use Application

  @impl Application
  def start(_type, _args) do
    children = [{Registry, keys: :unique, name: Demo.Registry}] ++ http_children()
    Supervisor.start_link(children, strategy: :one_for_one, name: Demo.Supervisor)
  end

  # Off by default, so `mix test` and `bin/demo eval` bind no port.
  @spec http_children() :: [{module(), keyword()}]
  defp http_children do
    config = Application.get_env(:demo, Demo.HTTP, [])
    if Keyword.get(config, :server, false), do: [{Demo.HTTP, config}], else: []
  end
end
