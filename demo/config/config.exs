# Compile-time configuration shared by every environment; the env-specific file is imported last.
import Config

# Service URLs are not set here: dev.exs and test.exs give local defaults, and
# runtime.exs reads DATABASE_URL and REDIS_URL, which production must provide.

# The one database's name for release tasks, as in a Phoenix app with Ecto.
# There is no Ecto here (Demo.Migrator stands in for it), but keeping the name
# means `Demo.Release.rollback(Demo.Repo, version)` reads like any Phoenix app's.
config :demo, ecto_repos: [Demo.Repo]

# The HTTP server (/health, /ready, /live, /version) is off unless runtime.exs
# turns it on from PHX_SERVER, like a Phoenix endpoint's `server: true`.
config :demo, Demo.HTTP, ip: {127, 0, 0, 1}, port: 4000, server: false

import_config "#{config_env()}.exs"
