# Runtime configuration, read at boot (also inside a release): service URLs come from the environment.
import Config

if config_env() == :prod do
  # A release must not fall back to localhost silently, so a missing URL stops the boot.
  database_url =
    System.get_env("DATABASE_URL") ||
      raise """
      environment variable DATABASE_URL is missing.
      For example: postgres://USER:PASS@HOST:5432/DATABASE
      """

  redis_url =
    System.get_env("REDIS_URL") ||
      raise """
      environment variable REDIS_URL is missing.
      For example: redis://HOST:6379/0
      """

  config :demo, database_url: database_url, redis_url: redis_url
else
  # In dev and test the CI tool may point us at its own services (one database
  # per test partition); when it does not, the defaults above stay.
  if url = System.get_env("DATABASE_URL"), do: config(:demo, database_url: url)
  if url = System.get_env("REDIS_URL"), do: config(:demo, redis_url: url)
end
