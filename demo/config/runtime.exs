# Runtime configuration, read at boot (also inside a release): service URLs and secrets come from the environment.
import Config

# `bin/server` sets PHX_SERVER=true, as in a Phoenix release, so the HTTP
# server runs in the container but not under `bin/demo eval` (bin/migrate).
if System.get_env("PHX_SERVER") do
  config :demo, Demo.HTTP, server: true
end

# What /version reports. The release image bakes these in as ENV from its
# build args (APP_VERSION, GIT_SHA, BUILD_TIME); elsewhere they are unknown.
build_value = fn var ->
  case System.get_env(var) do
    empty when empty in [nil, ""] -> "unknown"
    value -> value
  end
end

config :demo, :build,
  version: build_value.("APP_VERSION"),
  git_sha: build_value.("GIT_SHA"),
  build_time: build_value.("BUILD_TIME")

if config_env() == :prod do
  # A release must not fall back to localhost silently, so a missing URL stops
  # the boot. An empty value (`-e SECRET_KEY_BASE=` with the shell variable
  # unset) counts as missing too.
  required_env = fn name, hint ->
    case System.get_env(name) do
      empty when empty in [nil, ""] -> raise "environment variable #{name} is missing.\n#{hint}"
      value -> value
    end
  end

  database_url =
    required_env.("DATABASE_URL", "For example: postgres://USER:PASS@HOST:5432/DATABASE")

  redis_url = required_env.("REDIS_URL", "For example: redis://HOST:6379/0")

  # As in Phoenix's runtime.exs: the key that would sign and encrypt cookies
  # is read here at boot, never baked into the image.
  secret_key_base =
    required_env.(
      "SECRET_KEY_BASE",
      "You can generate one with: openssl rand -base64 48 (or `mix phx.gen.secret` in a Phoenix project)."
    )

  config :demo, database_url: database_url, redis_url: redis_url, secret_key_base: secret_key_base

  # Inside a container the server must listen on every interface; PORT is the
  # variable Phoenix's runtime.exs reads too.
  port = String.to_integer(System.get_env("PORT") || "4000")
  config :demo, Demo.HTTP, ip: {0, 0, 0, 0}, port: port
else
  # In dev and test the CI tool may point us at its own services (one database
  # per test partition); when it does not, the defaults above stay.
  if url = System.get_env("DATABASE_URL"), do: config(:demo, database_url: url)
  if url = System.get_env("REDIS_URL"), do: config(:demo, redis_url: url)
end

# Dev listens on 127.0.0.1 and prod on 0.0.0.0; HTTP_IP overrides either. A
# dev container must listen on every interface to be reachable through its
# published port, so docker/docker-compose.yml sets HTTP_IP=0.0.0.0.
if ip = System.get_env("HTTP_IP") do
  case :inet.parse_address(String.to_charlist(ip)) do
    {:ok, address} -> config :demo, Demo.HTTP, ip: address
    {:error, _} -> raise "HTTP_IP=#{inspect(ip)} is not an IP address; use e.g. 0.0.0.0"
  end
end
