# Compile-time configuration shared by every environment; the env-specific file is imported last.
import Config

# Service URLs are not set here: dev.exs and test.exs give local defaults, and
# runtime.exs reads DATABASE_URL and REDIS_URL, which production must provide.
import_config "#{config_env()}.exs"
