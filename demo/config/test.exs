# Test configuration: one database per MIX_TEST_PARTITION, as Phoenix generates it.
import Config

# `mix test --partitions N` runs N suites side by side, so each needs its own
# database. config/runtime.exs overrides this when the CI tool sets DATABASE_URL.
config :demo,
  database_url:
    "postgres://postgres:postgres@localhost:5432/demo_test#{System.get_env("MIX_TEST_PARTITION")}",
  redis_url: "redis://localhost:6379/1"

# Keep test output to failures only.
config :logger, level: :warning
