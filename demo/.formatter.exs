# Tells `mix format` which files belong to the demo app, with the same inputs as a Phoenix app.
# Phoenix formats priv/repo/migrations through a `subdirectories:` entry with
# its own .formatter.exs (for ecto_sql's DSL); plain-SQL migrations need no DSL.
[
  inputs: ["*.{ex,exs}", "{config,lib,test}/**/*.{ex,exs}", "priv/*/migrations/*.exs"]
]
