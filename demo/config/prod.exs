# Production compile-time configuration; connection settings live in config/runtime.exs.
import Config

config :logger, level: :info
