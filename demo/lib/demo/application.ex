# OTP application callback: starts the demo's supervision tree.
defmodule Demo.Application do
  @moduledoc """
  Starts the demo's supervision tree.

  It holds only a registry: the service clients are plain functions over a
  socket, so there is no connection pool to supervise.
  """

  use Application

  @impl Application
  def start(_type, _args) do
    children = [
      {Registry, keys: :unique, name: Demo.Registry}
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: Demo.Supervisor)
  end
end
