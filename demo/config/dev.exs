# Development configuration: local services on their default ports.
import Config

config :demo,
  database_url: "postgres://postgres:postgres@localhost:5432/demo_dev",
  redis_url: "redis://localhost:6379/0"
